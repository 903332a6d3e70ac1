"""SinGAN-Seg Studio: Home page (the default page of ``streamlit run app.py``).

Shows what the tool does, the workspace in use, the device, whether pretrained VGG19 weights are available,
and links to every page. On a fresh machine the embedded demo is copied into the workspace first.
"""

from __future__ import annotations

import streamlit as st
from ui.access import shown_path
from ui.controls import delete_control
from ui.feedback import guarded, scrub, unreadable_checkpoints_note
from ui.layout import page_header
from ui.figures import metrics, show_table
from ui.page_list import APP_TITLE, PAGES



def manage(ws) -> None:  # noqa: ANN001 - Workspace
    from singanseg_core.services import catalog

    category = st.radio("Items", catalog.CATEGORIES, horizontal=True, key="home_cat",
                        format_func=lambda c: {"samples": "sample sets", "style": "style sets"}.get(c, c),
                        help="Which kind of item to list (newest first).")
    table = catalog.table(ws, category)
    if table.empty:
        st.caption(f"No {category} yet.")
        return
    show_table(table)
    name = st.selectbox(f"{catalog.LABELS[category].capitalize()} to delete", table.iloc[:, 0].tolist(),
                        key=f"home_pick_{category}",
                        help="Deleting asks for confirmation and is refused while a job reads or writes the item.")
    delete_control(ws, category, name, key=f"home_del_{category}")


@guarded
def main() -> None:
    ws = page_header(
        APP_TITLE, ":material/biotech:",
        "Synthetic medical images *with* segmentation masks from a 4-channel SinGAN trained on one image each "
        "(SinGAN-Seg).")
    st.markdown(
        "1. **Train** one small GAN per real image+mask pair (or import published checkpoints).\n"
        "2. **Sample** as many new image+mask pairs as you like, optionally **style-transfer** them to look "
        "more real.\n"
        "3. **Compare** mask statistics of real vs synthetic data and run **augmentation studies** with UNet++.")

    counts = ws.counts()
    st.subheader("Workspace")
    metrics([
        ("Datasets", counts.datasets, "Folders of real image/mask pairs (Kvasir-SEG layout) under datasets/."),
        ("Checkpoints", counts.checkpoints, "Trained SinGAN-Seg models under checkpoints/."),
        ("Sample sets", counts.samples, "Saved generated image/mask sets under samples/."),
        ("Style results", counts.style, "Style-transferred sets under style/."),
        ("Studies", counts.studies, "Augmentation studies under studies/."),
        ("Jobs", counts.jobs,
         "Background jobs (training, style transfer, studies, imports) under jobs/."),
    ])
    unreadable_checkpoints_note(ws)
    st.caption(f"Folder: `{shown_path(ws, ws.root)}` (set `SINGANSEG_WORKSPACE` to use another one). The "
               "dashboard never reads or writes outside it.")
    with st.expander("Manage workspace items (list, delete)", icon=":material/folder_managed:"):
        manage(ws)

    from singanseg_core.services.demo import describe_demo, has_own_data, is_demo_workspace

    if is_demo_workspace(ws) and not has_own_data(ws):
        st.info(
            f"**This workspace holds the embedded demo set**: {describe_demo(ws)}. The image ships with "
            "scikit-image; its masks are a colour-deconvolution threshold of the brown DAB stain. It shows how "
            "everything works offline; it is not polyp data.\n\n"
            "For real work: download [Kvasir-SEG](https://datasets.simula.no/kvasir-seg/) (or HyperKvasir's "
            "segmented images) and upload its zip on **Checkpoints → Add data**, or put the published SinGAN-Seg "
            "checkpoints in `legacy/` of the workspace and use **Checkpoints → Import legacy**.",
            icon=":material/school:")
        st.caption(":material/co_present: A five-minute tour: **Sample** → Generate, then the tabs *Start scales*, "
                   "*True-pixel histogram* and *Style preview* → **How it works** (the pyramid, scale by scale) → "
                   "**Mask statistics**. For a lecture room, switch on *Projector mode* in the sidebar.")

    st.subheader("Environment")
    c1, c2 = st.columns(2)
    with c1:
        from singanseg_core.device import describe_device, resolve_device

        device = resolve_device("auto")
        if device.type == "cuda":
            st.success(f"Device: {describe_device(device)}", icon=":material/memory:")
        else:
            st.info(f"Device: {describe_device(device)}. Training is slow on CPU; sampling is fast.",
                    icon=":material/memory:")
    with c2:
        from singanseg_core.style import vgg_weights_status

        ok, text = vgg_weights_status()
        if ok:
            st.success(scrub(text), icon=":material/palette:")
        else:
            st.warning("Pretrained VGG19 weights are not available: **style transfer uses random VGG features** "
                       "(results are labelled so). " + scrub(text.split(". ", 1)[-1]), icon=":material/palette:")

    st.subheader("Pages")
    descriptions = {
        "Checkpoints": "browse models, add data, train in the background, import legacy checkpoints",
        "Sample": "generate image+mask pairs, see overlays and mean/std masks, save and download",
        "How it works": "one model building one sample, scale by scale (for teaching)",
        "Style transfer": "make generated images look like the real one; before/after comparison",
        "Mask statistics": "true-pixel-percentage histograms of real vs synthetic masks",
        "Augmentation study": "UNet++ with real, synthetic and both; IoU/F-score vs number of real images",
    }
    for path, label, icon in PAGES[1:]:
        st.page_link(path, label=f"{label} — {descriptions[label]}", icon=icon)


main()
