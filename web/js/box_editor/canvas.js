// The box editor of one GroundingBoxes node: a DOM widget with a canvas to draw, move, resize and delete
// boxes, a list to name them, Undo, Clear and a background image.
//
// The whole state lives in the node's ordinary `boxes_json` STRING widget, so a workflow saved in the
// browser and the same workflow run headless through the API carry identical boxes. The editor only reads
// and writes that widget: it is a DOM widget that is never serialized itself. Hand edits in the text
// field are picked up as they are typed. Text the editor cannot show is an inline error, and the canvas
// keeps the last valid boxes until the text is fixed or undone; text it can show but the node would
// refuse (a box without a phrase yet) gets the node's own message in the status line (state.js).
//
// Lifecycle: restore() when the node is configured (a workflow loaded, ComfyUI's undo/redo), dispose()
// when it is removed: every observer and hook the editor set up is undone there.
//
// A module of exports only: ComfyUI's frontend imports every .js file of the pack, this one included;
// the extension entry (../gligen_box_editor.js) builds editors and hands them the frontend's app and api.
import { BoxesError, formatState, parseBoxes, readState, MAX_BOXES } from "./state.js";
import { strip } from "./pyjson.js";
import { boxColour, drawLayout } from "./draw.js";
import { injectStyle } from "./style.js";
import { Notice } from "./notices.js";
import { editKey, reorder } from "./keys.js";
import { CoordsForm } from "./coords.js";
import { FrameSlider, boxAtFrame, setKeyframe } from "./keyframes.js";

const MIN_AREA = 0.01;      // boxes below 1% of the canvas are kept with an inline notice offering Undo
const HANDLE_PX = 7;        // half size of a resize handle, in screen pixels
const MAX_UNDO = 200;

function imageUrl(api, ref) {
    const q = new URLSearchParams({ filename: ref.filename, subfolder: ref.subfolder || "", type: ref.type || "input" });
    return api.apiURL(`/view?${q}`);
}

const hasImage = (b) => b.image !== undefined && b.image !== null;

export class BoxEditor {
    /** `host`: the frontend's {app, api} (scripts/app.js and scripts/api.js). */
    constructor(node, host) {
        this.node = node;
        this.app = host.app;
        this.api = host.api;
        this.cleanups = [];     // undone by dispose()
        this.disposed = false;
        this.json = node.widgets.find((w) => w.name === "boxes_json");
        this.widthW = node.widgets.find((w) => w.name === "width");
        this.heightW = node.widgets.find((w) => w.name === "height");
        this.state = { boxes: [], extra: {} };
        this.error = null;      // why the text cannot be edited on the canvas
        this.verdict = null;    // why queueing would refuse the text (a box without a phrase yet)
        this.selected = -1;
        this.undoStack = [];
        this.drag = null;
        this.writing = false;
        this.images = {};       // url -> HTMLImageElement
        this.runBackground = null;
        this.runImages = [];    // urls of the reference images on 'images', from the node's last run
        this.frame = 0;         // the frame shown and edited (keyframes.js)
        injectStyle(document);
        this.build();
        this.hook(this.json, () => this.fromText(this.json.value));
        this.hook(this.widthW, () => this.fromText(this.json.value));     // 'box_px' boxes move with the canvas
        this.hook(this.heightW, () => this.fromText(this.json.value));
        this.fromText(this.json.value);
    }

    hook(widget, fn) {
        if (!widget) return;
        const previous = widget.callback;
        const hooked = function (...args) {
            const r = previous?.apply(this, args);
            fn();
            return r;
        };
        widget.callback = hooked;
        this.cleanups.push(() => { if (widget.callback === hooked) widget.callback = previous; });
    }

    // The node was configured (a workflow loaded, ComfyUI's undo or redo): show what its saved text says,
    // and nothing from before: not the boxes of the node's default text, not this editor's undo steps.
    restore() {
        if (this.disposed) return;
        this.undoStack = [];
        this.selected = -1;
        this.drag = null;
        this.runBackground = null;
        this.state = { boxes: [], extra: {} };
        this.error = null;
        this.fromText(this.json.value);
    }

    // The node was removed: disconnect the observer, unhook the widgets, stop timers and image loads.
    dispose() {
        if (this.disposed) return;
        this.disposed = true;
        for (const undo of this.cleanups.splice(0).reverse()) undo();
        clearTimeout(this.flashTimer);
        this.notice?.dispose();
        for (const img of Object.values(this.images)) img.onload = null;
        this.images = {};
        this.drag = null;
    }

    get width() { return Math.max(1, Number(this.widthW?.value) || 512); }
    get height() { return Math.max(1, Number(this.heightW?.value) || 512); }

    build() {
        const root = document.createElement("div");
        root.className = "gligen-box-editor";
        root.innerHTML = `
          <div class="gbe-toolbar">
            <button data-act="undo" title="Undo the last box edit (Ctrl+Z is ComfyUI's undo, which covers box edits too)">Undo</button>
            <button data-act="clear" title="Remove every box">Clear</button>
            <button data-act="image" title="Upload an image to place the boxes over">Image…</button>
            <button data-act="noimage" title="Remove the uploaded background image">No image</button>
            <span class="gbe-status"></span>
          </div>
          <div class="gbe-stage"><canvas tabindex="0"></canvas></div>
          <div class="gbe-list"></div>
          <input type="file" accept="image/*" style="display:none">`;
        this.root = root;
        this.canvas = root.querySelector("canvas");
        this.status = root.querySelector(".gbe-status");
        this.list = root.querySelector(".gbe-list");
        this.file = root.querySelector("input[type=file]");
        this.notice = new Notice(root);
        this.coords = new CoordsForm(this);
        this.slider = new FrameSlider(this, root.querySelector(".gbe-toolbar"));
        root.querySelector(".gbe-toolbar").addEventListener("click", (e) => {
            const act = e.target?.dataset?.act;
            if (act === "undo") this.undo();
            else if (act === "clear") this.edit((s) => { s.boxes = []; });
            else if (act === "image") this.file.click();
            else if (act === "noimage") this.edit((s) => { delete s.extra.background; });
        });
        this.file.addEventListener("change", () => this.upload(this.file.files?.[0]));
        for (const type of ["pointerdown", "pointermove", "pointerup", "pointercancel"])
            this.canvas.addEventListener(type, (e) => this.pointer(type, e));
        this.canvas.addEventListener("keydown", (e) => this.key(e));
        for (const type of ["pointerdown", "wheel", "contextmenu"]) root.addEventListener(type, (e) => e.stopPropagation());
        const resized = new ResizeObserver(() => this.render());
        resized.observe(root.querySelector(".gbe-stage"));
        this.cleanups.push(() => resized.disconnect());

        const widget = this.node.addDOMWidget("box_editor", "gligen_box_editor", root, {
            serialize: false, hideOnZoom: false, getValue: () => undefined, setValue: () => {},
            getMinHeight: () => 300,
        });
        widget.serialize = false;
        this.widget = widget;
    }

    // --- state <-> widget text -------------------------------------------------------------------

    fromText(text) {
        if (this.writing || this.disposed) return;
        try {
            this.state = readState(text, this.width, this.height);
            this.error = null;
            if (this.selected >= this.state.boxes.length) this.selected = -1;
        } catch (e) {
            if (!(e instanceof BoxesError)) throw e;
            this.error = e.message;  // keep showing the last valid boxes; the text is left as typed
        }
        this.check(text);
        this.render();
    }

    check(text) {               // what queueing would say about the text, in the backend's words
        try {
            parseBoxes(text, this.width, this.height);
            this.verdict = null;
        } catch (e) {
            if (!(e instanceof BoxesError)) throw e;
            this.verdict = e.message;
        }
    }

    write(state) {
        const text = formatState(state);
        if (text === this.json.value) return;
        this.writing = true;
        try {
            this.json.value = text;    // the DOM widget setter updates the textarea and calls callbacks
        } finally {
            this.writing = false;
        }
        this.check(text);
        this.node.graph?.setDirtyCanvas?.(true, true);
        // ComfyUI records graph states for its undo on mouseup and keydown; record keyboard-only edits too
        this.app.extensionManager?.workflow?.activeWorkflow?.changeTracker?.checkState?.();
    }

    edit(change, { undoable = true } = {}) {
        if (this.error || this.disposed) return false;   // the status line says why: fix the text or press Undo
        const before = this.json.value;
        const next = structuredClone(this.state);
        change(next);
        this.state = next;
        if (undoable && formatState(next) !== before) {
            this.undoStack.push(before);
            if (this.undoStack.length > MAX_UNDO) this.undoStack.shift();
        }
        this.write(next);
        this.render();
        return true;
    }

    undo() {
        const text = this.undoStack.pop();
        if (text === undefined) return this.flash("Nothing to undo.");
        this.writing = true;
        try {
            this.json.value = text;
        } finally {
            this.writing = false;
        }
        this.fromText(text);
    }

    flash(message) {
        this.flashMessage = message;
        this.flashUntil = Date.now() + 2500;
        this.renderStatus();
        clearTimeout(this.flashTimer);
        this.flashTimer = setTimeout(() => this.render(), 2600);
    }

    // --- geometry ---------------------------------------------------------------------------------

    toNorm(e) {
        const r = this.canvas.getBoundingClientRect();
        return [Math.min(1, Math.max(0, (e.clientX - r.left) / r.width)),
                Math.min(1, Math.max(0, (e.clientY - r.top) / r.height))];
    }

    handleAt(box, p) {          // which corner handle of `box` is under point p (normalised)
        const r = this.canvas.getBoundingClientRect();
        const hx = HANDLE_PX / r.width, hy = HANDLE_PX / r.height;
        const corners = { nw: [box[0], box[1]], ne: [box[2], box[1]], sw: [box[0], box[3]], se: [box[2], box[3]] };
        for (const [name, [x, y]] of Object.entries(corners))
            if (Math.abs(p[0] - x) <= hx && Math.abs(p[1] - y) <= hy) return name;
        return null;
    }

    shown(i) {                  // box i at the frame shown, or null where it is absent
        return boxAtFrame(this.state.boxes[i], this.frame);
    }

    boxAt(p) {
        for (let i = this.state.boxes.length - 1; i >= 0; i--) {
            const b = this.shown(i);
            if (b && p[0] >= b[0] && p[0] <= b[2] && p[1] >= b[1] && p[1] <= b[3]) return i;
        }
        return -1;
    }

    // --- input ------------------------------------------------------------------------------------

    pointer(type, e) {
        if (type === "pointerdown") {
            if (e.button !== 0) return;
            // no preventDefault: the mouseup that follows is how ComfyUI's undo history notices the edit
            this.canvas.focus();
            if (this.error) return;    // the status line says why
            const p = this.toNorm(e);
            const sel = this.state.boxes[this.selected] && this.shown(this.selected);
            const handle = sel ? this.handleAt(sel, p) : null;
            const hit = handle ? this.selected : this.boxAt(p);
            this.canvas.setPointerCapture(e.pointerId);
            if (handle) this.drag = { mode: "resize", index: hit, handle, start: p, orig: sel.slice() };
            else if (hit >= 0) this.drag = { mode: "move", index: hit, start: p, orig: this.shown(hit).slice() };
            else this.drag = { mode: "draw", start: p, current: p };
            if (hit >= 0) this.selected = hit;
            this.render();
        } else if (type === "pointermove" && this.drag) {
            this.drag.current = this.toNorm(e);
            this.render();
        } else if ((type === "pointerup" || type === "pointercancel") && this.drag) {
            const drag = this.drag;
            this.drag = null;
            drag.current = this.toNorm(e);
            if (type === "pointerup") this.finish(drag);
            this.render();
        }
    }

    dragged(drag) {             // the box a drag in progress would produce
        const [sx, sy] = drag.start, [cx, cy] = drag.current || drag.start;
        if (drag.mode === "draw") return [Math.min(sx, cx), Math.min(sy, cy), Math.max(sx, cx), Math.max(sy, cy)];
        const [x0, y0, x1, y1] = drag.orig;
        if (drag.mode === "move") {
            const dx = Math.min(Math.max(cx - sx, -x0), 1 - x1), dy = Math.min(Math.max(cy - sy, -y0), 1 - y1);
            return [x0 + dx, y0 + dy, x1 + dx, y1 + dy];
        }
        let [a, b, c, d] = [x0, y0, x1, y1];
        if (drag.handle.includes("w")) a = cx; else c = cx;
        if (drag.handle.includes("n")) b = cy; else d = cy;
        return [Math.min(a, c), Math.min(b, d), Math.max(a, c), Math.max(b, d)];
    }

    finish(drag) {
        const box = this.dragged(drag);
        const moved = Math.abs(drag.current[0] - drag.start[0]) + Math.abs(drag.current[1] - drag.start[1]) > 1e-6;
        if (!moved) {
            if (drag.mode === "draw") this.selected = -1;
            return;
        }
        const area = (box[2] - box[0]) * (box[3] - box[1]);
        if (box[2] <= box[0] || box[3] <= box[1]) return this.flash("A box needs a width and a height.");
        let kept = false;
        if (drag.mode === "draw") {
            if ((kept = this.edit((s) => s.boxes.push({ phrase: "", box })))) {
                this.selected = this.state.boxes.length - 1;
                this.render();
                this.list.querySelectorAll("input.gbe-phrase")[this.selected]?.focus();
            }
        } else {
            kept = this.edit((s) => {   // with frames, a keyframe at the frame shown
                const b = s.boxes[drag.index];
                if (this.slider.frames > 1 || b.timed) setKeyframe(b, this.frame, box); else b.box = box;
            });
        }
        if (kept && area < MIN_AREA) this.smallBoxNotice(drag, box, area);
    }

    // A box under 1% of the canvas is kept, and a notice offers to take it back (never a blocking dialog).
    smallBoxNotice(drag, box, area) {
        const same = (b) => b.box.every((v, k) => v === box[k]);
        this.notice.show(`This box covers ${(area * 100).toFixed(2)}% of the canvas (under 1%).`, () => {
            const k = drag.mode === "draw" ? this.state.boxes.findIndex(same) : drag.index;
            if (k < 0 || !this.state.boxes[k] || !same(this.state.boxes[k])) return;
            if (drag.mode === "draw") {
                if (this.edit((s) => { s.boxes.splice(k, 1); })) this.selected = -1;
            } else {
                this.edit((s) => { s.boxes[k].box = drag.orig.slice(); });
            }
            this.render();
        });
    }

    // Ctrl+Z is left to ComfyUI: its own undo already records every box edit (the widget's text), and
    // handling it here as well would undo twice. The toolbar's Undo steps back through this editor's edits.
    key(e) {
        if (editKey(this, e)) {
            // arrows nudge, Ctrl+D duplicates (keys.js)
        } else if ((e.key === "Delete" || e.key === "Backspace") && this.selected >= 0) {
            const i = this.selected;
            if (this.edit((s) => { s.boxes.splice(i, 1); })) this.selected = -1;
            this.render();
        } else if (e.key === "Escape") {
            this.selected = -1;
            this.render();
        } else {
            return;
        }
        e.preventDefault();
        e.stopPropagation();     // keep the graph from deleting the node or undoing graph edits
    }

    async upload(file) {
        if (!file) return;
        const body = new FormData();
        body.append("image", file);
        body.append("type", "input");
        const res = await this.api.fetchApi("/upload/image", { method: "POST", body });
        if (this.disposed) return;
        if (res.status !== 200) return this.flash(`Upload failed: ${res.status} ${res.statusText}`);
        const data = await res.json();
        this.edit((s) => { s.extra.background = { filename: data.name, subfolder: data.subfolder || "", type: data.type || "input" }; });
        this.file.value = "";
    }

    onExecuted(message) {
        const bg = message?.gligen_background?.[0];
        this.runBackground = bg ? imageUrl(this.api, bg) : null;
        this.runImages = (message?.gligen_images || []).map((ref) => imageUrl(this.api, ref));
        this.render();
    }

    // --- drawing ----------------------------------------------------------------------------------

    image(url) {
        if (!url) return null;
        let img = this.images[url];
        if (!img) {
            img = this.images[url] = new Image();
            img.onload = () => this.render();
            img.src = url;
        }
        return img.complete && img.naturalWidth ? img : null;
    }

    render() {
        const stage = this.canvas.parentElement;
        if (!stage || this.disposed) return;
        const availW = Math.max(40, stage.clientWidth - 2), availH = Math.max(40, stage.clientHeight - 2);
        const aspect = this.width / this.height;
        const cssW = Math.floor(Math.min(availW, availH * aspect)), cssH = Math.floor(cssW / aspect);
        const dpr = window.devicePixelRatio || 1;
        if (this.canvas.width !== Math.round(cssW * dpr) || this.canvas.height !== Math.round(cssH * dpr)) {
            this.canvas.width = Math.round(cssW * dpr);
            this.canvas.height = Math.round(cssH * dpr);
        }
        this.canvas.style.width = `${cssW}px`;
        this.canvas.style.height = `${cssH}px`;
        this.slider.render();
        const boxes = this.state.boxes.map((b, i) => (this.shown(i) ?? b.box).slice());
        if (this.drag && this.drag.mode !== "draw") boxes[this.drag.index] = this.dragged(this.drag);
        drawLayout(this.canvas.getContext("2d"), {
            width: cssW, height: cssH, scale: dpr, handle: HANDLE_PX, selected: this.selected, boxes,
            labels: this.state.boxes.map((b, i) => `${i + 1}. ` + (strip(b.phrase) ? b.phrase : hasImage(b) ? "" : "(name it)") +
                (hasImage(b) ? ` [image ${b.image}]` : "") + (this.shown(i) ? "" : ` (not in frame ${this.frame})`)),
            thumbnails: this.state.boxes.map((b) => (hasImage(b) && this.runImages[b.image] ? this.image(this.runImages[b.image]) : null)),
            background: this.image(this.state.extra.background ? imageUrl(this.api, this.state.extra.background) : this.runBackground),
            drawing: this.drag?.mode === "draw" && this.drag.current ? this.dragged(this.drag) : null,
        });
        this.renderStatus();
        this.renderList();
        this.coords.render();
    }

    renderStatus() {
        const flashing = Date.now() < (this.flashUntil || 0);
        this.status.classList.toggle("gbe-error", !!this.error);
        this.status.classList.toggle("gbe-warning", !this.error && !flashing && !!this.verdict);
        const n = this.state.boxes.length;
        if (this.error) {
            this.status.textContent = `JSON error: ${this.error} The canvas shows the last valid boxes; fix the ` +
                "text or press Undo to edit them here.";
        } else if (flashing) {
            this.status.textContent = this.flashMessage;
        } else if (this.verdict) {
            this.status.textContent = `Not ready to queue: ${this.verdict}`;
        } else {
            this.status.textContent = `${this.width}×${this.height} · ${n} box${n === 1 ? "" : "es"}` +
                (n > MAX_BOXES ? ` · only the ${MAX_BOXES} largest are grounded` : "") + " · drag to draw";
        }
    }

    renderList() {
        const boxes = this.state.boxes;
        const active = document.activeElement;
        const focused = this.list.contains(active) ? [...this.list.querySelectorAll("input.gbe-phrase")].indexOf(active) : -1;
        if (this.list.childElementCount !== boxes.length) {
            this.list.replaceChildren(...boxes.map((_, i) => this.row(i)));
        }
        [...this.list.children].forEach((row, i) => {
            const b = boxes[i];
            row.classList.toggle("gbe-selected", i === this.selected);
            row.querySelector(".gbe-swatch").style.background = boxColour(i);
            const input = row.querySelector("input.gbe-phrase");
            if (i !== focused && input.value !== b.phrase) input.value = b.phrase;
            input.classList.toggle("gbe-empty", !strip(b.phrase) && !hasImage(b));
            const picker = row.querySelector("input.gbe-image");
            const shown = hasImage(b) ? String(b.image) : "";
            if (active !== picker && picker.value !== shown) picker.value = shown;
            const px = (this.shown(i) ?? b.box).map((v, k) => Math.round(v * (k % 2 ? this.height : this.width)));
            row.querySelector(".gbe-coords").textContent = `x ${px[0]}–${px[2]} · y ${px[1]}–${px[3]} px`;
        });
    }

    row(i) {
        const row = document.createElement("div");
        row.className = "gbe-row";
        row.innerHTML = `<span class="gbe-swatch"></span><input class="gbe-phrase" type="text" placeholder="what goes in box ${i + 1}">` +
            `<input class="gbe-image" type="number" min="0" step="1" placeholder="img" title="Reference image (text-image ` +
            `GLIGEN): its index in the IMAGE batch on 'images', 0 for the first; empty for none">` +
            `<span class="gbe-coords"></span><button data-act="up" title="Move up in the list">▲</button>` +
            `<button data-act="down" title="Move down in the list">▼</button><button title="Delete this box">✕</button>`;
        const picker = row.querySelector("input.gbe-image");
        picker.addEventListener("keydown", (e) => e.stopPropagation());
        picker.addEventListener("change", () => {
            const v = picker.value.trim();
            const n = Number(v);
            if (v !== "" && !(Number.isSafeInteger(n) && n >= 0)) return this.flash("The image is an index: 0, 1, 2 …");
            this.edit((s) => { if (v === "") delete s.boxes[i].image; else s.boxes[i].image = n; });
            this.render();
        });
        const input = row.querySelector("input.gbe-phrase");
        let before = null;
        input.addEventListener("focus", () => { before = this.json.value; this.selected = i; this.render(); });
        input.addEventListener("input", () => this.edit((s) => { s.boxes[i].phrase = input.value; }, { undoable: false }));
        input.addEventListener("change", () => {
            if (before !== null && before !== this.json.value) this.undoStack.push(before);
            before = this.json.value;
        });
        input.addEventListener("keydown", (e) => e.stopPropagation());
        row.querySelector("button[data-act=up]").addEventListener("click", () => reorder(this, i, -1));
        row.querySelector("button[data-act=down]").addEventListener("click", () => reorder(this, i, 1));
        row.querySelector("button:not([data-act])").addEventListener("click", () => {
            if (this.edit((s) => { s.boxes.splice(i, 1); })) this.selected = -1;
            this.render();
        });
        return row;
    }
}
