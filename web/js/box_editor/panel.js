// The floating panel that shows a box editor where the node cannot: the newer Vue node renderer of this
// frontend version does not mount custom DOM widgets inside nodes, so there the editor of the selected
// GroundingBoxes node opens in this panel instead. In the classic canvas it is never built.
//
// A module of exports only: ComfyUI's frontend imports every .js file of the pack, this one included.
import { injectStyle } from "./style.js";

export class FloatingPanel {
    constructor(doc = document) {
        this.doc = doc;
        this.el = null;         // built on first show, removed by release()
        this.editor = null;     // the editor whose root the panel holds
    }

    holds(editor) {
        return !!editor && this.editor === editor;
    }

    show(editor, title) {
        const el = this.el ?? this.build();
        el.querySelector(".gbp-title span").textContent = title;
        for (const child of [...el.children]) if (child !== el.firstElementChild && child !== editor.root) child.remove();
        if (editor.root.parentElement !== el) el.appendChild(editor.root);
        this.editor = editor;
        el.style.display = "flex";
        editor.render();
    }

    hide() {
        if (this.el) this.el.style.display = "none";
    }

    // The editor's node is gone: if the panel shows that editor, remove the panel from the page.
    release(editor) {
        if (!this.holds(editor)) return;
        this.el?.remove();
        this.el = null;
        this.editor = null;
    }

    build() {
        injectStyle(this.doc);
        const el = this.doc.createElement("div");
        el.className = "gligen-box-panel";
        el.innerHTML = `<div class="gbp-title"><span></span><button title="Close">✕</button></div>`;
        el.querySelector("button").addEventListener("click", () => this.hide());
        for (const type of ["pointerdown", "wheel", "contextmenu", "keydown"]) el.addEventListener(type, (e) => e.stopPropagation());
        this.doc.body.appendChild(el);
        this.el = el;
        return el;
    }
}
