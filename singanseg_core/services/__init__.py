"""What the dashboard and the CLI share: the workspace folder (``workspace``), background jobs (``jobs``) and what
each kind of job does (``job_tasks``), and the embedded demo (``demo``)."""
