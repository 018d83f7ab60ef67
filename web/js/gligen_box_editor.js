// Box editor for the GroundingBoxes node: draw, move, resize and delete boxes on a canvas, name each.
//
// The whole state lives in the node's ordinary `boxes_json` STRING widget, so a workflow saved in the
// browser and the same workflow run headless through the API carry identical boxes. This file only
// reads and writes that widget: the editor is a DOM widget that is never serialized itself.
//
// JSON written by the editor: a list of {"phrase", "box": [x0, y0, x1, y1]} with coordinates normalised
// to 0..1 (origin top left), or {"boxes": [...], "background": {...}} when an uploaded image is used.
// Hand edits in the text field are picked up as they are typed; malformed JSON shows an inline error and
// the canvas keeps the last valid boxes (editing on the canvas waits until the text is fixed or undone).
import { app } from "../../../scripts/app.js";
import { api } from "../../../scripts/api.js";

const NODE_TYPE = "GLIGENGroundingBoxes";
const MIN_AREA = 0.01;      // boxes below 1% of the canvas ask for confirmation
const HANDLE_PX = 7;        // half size of a resize handle, in screen pixels
const MAX_UNDO = 200;

function boxColour(i) {     // the same colours as the node's preview image (gligen_core/preview.py)
    const h = (i * 0.618033988749895) % 1, s = 0.75, v = 1;
    const k = Math.floor(h * 6), f = h * 6 - k;
    const p = v * (1 - s), q = v * (1 - f * s), t = v * (1 - (1 - f) * s);
    const [r, g, b] = [[v, t, p], [q, v, p], [p, v, t], [p, q, v], [t, p, v], [v, p, q]][k % 6];
    return `rgb(${Math.trunc(r * 255)}, ${Math.trunc(g * 255)}, ${Math.trunc(b * 255)})`;
}

const round6 = (v) => Math.round(v * 1e6) / 1e6;

// Parse the widget text into editor state; throws Error with a message for the user.
function parseState(text, width, height) {
    if (!text || !text.trim()) return { boxes: [], extra: {} };
    let data;
    try {
        data = JSON.parse(text);
    } catch (e) {
        throw new Error(`not valid JSON: ${e.message}`);
    }
    let extra = {};
    if (data && typeof data === "object" && !Array.isArray(data)) {
        if (!Array.isArray(data.boxes)) throw new Error("an object needs a 'boxes' list");
        ({ boxes: data, ...extra } = data);
    }
    if (!Array.isArray(data)) throw new Error("the boxes must be a list");
    const boxes = data.map((entry, i) => {
        const where = `box #${i + 1}`;
        if (!entry || typeof entry !== "object" || Array.isArray(entry)) throw new Error(`${where} must be an object`);
        if (typeof entry.phrase !== "string") throw new Error(`${where}: 'phrase' must be text`);
        const key = "box" in entry ? "box" : "box_px" in entry ? "box_px" : null;
        if (!key) throw new Error(`${where}: needs 'box' (normalised) or 'box_px' (pixels)`);
        const raw = entry[key];
        if (!Array.isArray(raw) || raw.length !== 4 || raw.some((v) => typeof v !== "number" || !isFinite(v)))
            throw new Error(`${where}: '${key}' must be 4 finite numbers`);
        const b = key === "box" ? raw.slice() : [raw[0] / width, raw[1] / height, raw[2] / width, raw[3] / height];
        if (b.some((v) => v < 0 || v > 1)) throw new Error(`${where}: coordinates are outside the canvas`);
        if (b[2] <= b[0] || b[3] <= b[1]) throw new Error(`${where}: x1/y1 must be right of/below x0/y0`);
        const out = { phrase: entry.phrase, box: b };
        for (const k of ["color", "id"]) if (k in entry) out[k] = entry[k];
        return out;
    });
    return { boxes, extra };
}

function formatState(state) {
    const entries = state.boxes.map((b) => {
        const e = { phrase: b.phrase, box: b.box.map(round6) };
        for (const k of ["color", "id"]) if (k in b) e[k] = b[k];
        return JSON.stringify(e);
    });
    const list = entries.length ? "[\n " + entries.join(",\n ") + "\n]" : "[]";
    const extra = Object.keys(state.extra || {});
    if (!extra.length) return list;
    const rest = extra.map((k) => `${JSON.stringify(k)}: ${JSON.stringify(state.extra[k])}`).join(",\n ");
    return `{\n "boxes": ${list.replace(/\n/g, "\n ")},\n ${rest}\n}`;
}

const STYLE = `
.gligen-box-editor { display: flex; flex-direction: column; gap: 4px; width: 100%; height: 100%;
  box-sizing: border-box; font: 12px sans-serif; color: var(--input-text, #ddd); pointer-events: auto; }
.gligen-box-editor .gbe-toolbar { display: flex; gap: 4px; align-items: center; flex-wrap: wrap; }
.gligen-box-editor button { font: inherit; padding: 1px 6px; cursor: pointer; color: inherit;
  background: var(--comfy-input-bg, #222); border: 1px solid var(--border-color, #555); border-radius: 4px; }
.gligen-box-editor .gbe-status { flex: 1; min-width: 0; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; opacity: 0.8; }
.gligen-box-editor .gbe-status.gbe-error { color: #ff6b6b; opacity: 1; white-space: normal; }
.gligen-box-editor .gbe-stage { flex: 1 1 auto; min-height: 80px; display: flex; align-items: center; justify-content: center; }
.gligen-box-editor canvas { outline: 1px solid var(--border-color, #555); cursor: crosshair; touch-action: none; }
.gligen-box-editor canvas:focus { outline: 1px solid #4a90e2; }
.gligen-box-editor .gbe-list { flex: 0 1 auto; max-height: 40%; overflow-y: auto; display: flex; flex-direction: column; gap: 2px; }
.gligen-box-editor .gbe-row { display: flex; gap: 4px; align-items: center; }
.gligen-box-editor .gbe-row.gbe-selected { background: rgba(74, 144, 226, 0.25); }
.gligen-box-editor .gbe-swatch { width: 10px; height: 10px; flex: none; border-radius: 2px; }
.gligen-box-editor .gbe-row input { flex: 1; min-width: 40px; font: inherit; color: inherit;
  background: var(--comfy-input-bg, #222); border: 1px solid var(--border-color, #555); border-radius: 3px; padding: 1px 4px; }
.gligen-box-editor .gbe-row input.gbe-empty { border-color: #ff6b6b; }
.gligen-box-editor .gbe-coords { flex: none; opacity: 0.75; font-variant-numeric: tabular-nums; }
.gligen-box-panel { position: fixed; left: 64px; bottom: 64px; width: 440px; height: 600px; z-index: 1000;
  display: flex; flex-direction: column; padding: 6px; gap: 4px; resize: both; overflow: hidden;
  background: var(--comfy-menu-bg, #202020); border: 1px solid var(--border-color, #555); border-radius: 6px;
  box-shadow: 0 4px 16px rgba(0, 0, 0, 0.5); }
.gligen-box-panel .gbp-title { display: flex; justify-content: space-between; font: 12px sans-serif;
  color: var(--input-text, #ddd); }
.gligen-box-panel .gligen-box-editor { flex: 1; min-height: 0; }
`;

function injectStyle() {
    if (document.getElementById("gligen-box-editor-style")) return;
    const el = document.createElement("style");
    el.id = "gligen-box-editor-style";
    el.textContent = STYLE;
    document.head.appendChild(el);
}

function imageUrl(ref) {
    const q = new URLSearchParams({ filename: ref.filename, subfolder: ref.subfolder || "", type: ref.type || "input" });
    return api.apiURL(`/view?${q}`);
}

class BoxEditor {
    constructor(node) {
        this.node = node;
        this.json = node.widgets.find((w) => w.name === "boxes_json");
        this.widthW = node.widgets.find((w) => w.name === "width");
        this.heightW = node.widgets.find((w) => w.name === "height");
        this.state = { boxes: [], extra: {} };
        this.error = null;
        this.selected = -1;
        this.undoStack = [];
        this.drag = null;
        this.writing = false;
        this.images = {};       // url -> HTMLImageElement
        this.runBackground = null;
        injectStyle();
        this.build();
        this.hook(this.json, () => this.fromText(this.json.value));
        this.hook(this.widthW, () => this.render());
        this.hook(this.heightW, () => this.render());
        this.fromText(this.json.value);
    }

    hook(widget, fn) {
        if (!widget) return;
        const previous = widget.callback;
        widget.callback = function (...args) {
            const r = previous?.apply(this, args);
            fn();
            return r;
        };
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
        new ResizeObserver(() => this.render()).observe(root.querySelector(".gbe-stage"));

        const widget = this.node.addDOMWidget("box_editor", "gligen_box_editor", root, {
            serialize: false, hideOnZoom: false, getValue: () => undefined, setValue: () => {},
            getMinHeight: () => 300,
        });
        widget.serialize = false;
        this.widget = widget;
    }

    // --- state <-> widget text -------------------------------------------------------------------

    fromText(text) {
        if (this.writing) return;
        try {
            this.state = parseState(text, this.width, this.height);
            this.error = null;
            if (this.selected >= this.state.boxes.length) this.selected = -1;
        } catch (e) {
            this.error = e.message;  // keep showing the last valid boxes; the text is left as typed
        }
        this.render();
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
        this.node.graph?.setDirtyCanvas?.(true, true);
        // ComfyUI records graph states for its undo on mouseup and keydown; record keyboard-only edits too
        app.extensionManager?.workflow?.activeWorkflow?.changeTracker?.checkState?.();
    }

    edit(change, { undoable = true } = {}) {
        if (this.error) return false;   // the status line says why: fix the text or press Undo
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

    boxAt(p) {
        for (let i = this.state.boxes.length - 1; i >= 0; i--) {
            const b = this.state.boxes[i].box;
            if (p[0] >= b[0] && p[0] <= b[2] && p[1] >= b[1] && p[1] <= b[3]) return i;
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
            const sel = this.state.boxes[this.selected];
            const handle = sel ? this.handleAt(sel.box, p) : null;
            const hit = handle ? this.selected : this.boxAt(p);
            this.canvas.setPointerCapture(e.pointerId);
            if (handle) this.drag = { mode: "resize", index: hit, handle, start: p, orig: sel.box.slice() };
            else if (hit >= 0) this.drag = { mode: "move", index: hit, start: p, orig: this.state.boxes[hit].box.slice() };
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
        if (area < MIN_AREA && !window.confirm(
            `This box covers ${(area * 100).toFixed(2)}% of the canvas (under 1%). Keep it?`)) return;
        if (drag.mode === "draw") {
            if (this.edit((s) => s.boxes.push({ phrase: "", box }))) {
                this.selected = this.state.boxes.length - 1;
                this.render();
                this.list.querySelectorAll("input")[this.selected]?.focus();
            }
        } else {
            this.edit((s) => { s.boxes[drag.index].box = box; });
        }
    }

    // Ctrl+Z is left to ComfyUI: its own undo already records every box edit (the widget's text), and
    // handling it here as well would undo twice. The toolbar's Undo steps back through this editor's edits.
    key(e) {
        if ((e.key === "Delete" || e.key === "Backspace") && this.selected >= 0) {
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
        const res = await api.fetchApi("/upload/image", { method: "POST", body });
        if (res.status !== 200) return this.flash(`Upload failed: ${res.status} ${res.statusText}`);
        const data = await res.json();
        this.edit((s) => { s.extra.background = { filename: data.name, subfolder: data.subfolder || "", type: data.type || "input" }; });
        this.file.value = "";
    }

    onExecuted(message) {
        const bg = message?.gligen_background?.[0];
        this.runBackground = bg ? imageUrl(bg) : null;
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
        if (!stage) return;
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
        const ctx = this.canvas.getContext("2d");
        ctx.setTransform(dpr, 0, 0, dpr, 0, 0);
        ctx.fillStyle = "#1c1c20";
        ctx.fillRect(0, 0, cssW, cssH);
        const bg = this.image(this.state.extra.background ? imageUrl(this.state.extra.background) : this.runBackground);
        if (bg) {
            ctx.globalAlpha = 0.85;
            ctx.drawImage(bg, 0, 0, cssW, cssH);
            ctx.globalAlpha = 1;
        }
        const boxes = this.state.boxes.map((b) => b.box.slice());
        if (this.drag && this.drag.mode !== "draw") boxes[this.drag.index] = this.dragged(this.drag);
        ctx.font = "12px sans-serif";
        ctx.textBaseline = "top";
        boxes.forEach((b, i) => {
            const [x, y, w, h] = [b[0] * cssW, b[1] * cssH, (b[2] - b[0]) * cssW, (b[3] - b[1]) * cssH];
            const colour = boxColour(i);
            ctx.fillStyle = colour.replace("rgb", "rgba").replace(")", ", 0.12)");
            ctx.fillRect(x, y, w, h);
            ctx.strokeStyle = colour;
            ctx.lineWidth = i === this.selected ? 3 : 2;
            ctx.strokeRect(x, y, w, h);
            const label = `${i + 1}. ${this.state.boxes[i].phrase || "(name it)"}`;
            const tw = ctx.measureText(label).width;
            ctx.fillStyle = "rgba(0, 0, 0, 0.75)";
            ctx.fillRect(x + 2, y + 2, tw + 6, 16);
            ctx.fillStyle = colour;
            ctx.fillText(label, x + 5, y + 4);
            if (i === this.selected) {
                ctx.fillStyle = colour;
                for (const [hx, hy] of [[x, y], [x + w, y], [x, y + h], [x + w, y + h]])
                    ctx.fillRect(hx - HANDLE_PX / 2, hy - HANDLE_PX / 2, HANDLE_PX, HANDLE_PX);
            }
        });
        if (this.drag?.mode === "draw" && this.drag.current) {
            const b = this.dragged(this.drag);
            ctx.setLineDash([5, 4]);
            ctx.strokeStyle = boxColour(this.state.boxes.length);
            ctx.lineWidth = 2;
            ctx.strokeRect(b[0] * cssW, b[1] * cssH, (b[2] - b[0]) * cssW, (b[3] - b[1]) * cssH);
            ctx.setLineDash([]);
        }
        this.renderStatus();
        this.renderList();
    }

    renderStatus() {
        this.status.classList.toggle("gbe-error", !!this.error);
        const n = this.state.boxes.length;
        if (this.error) {
            this.status.textContent = `JSON error: ${this.error}. The canvas shows the last valid boxes; fix the ` +
                "text or press Undo to edit them here.";
        } else if (Date.now() < (this.flashUntil || 0)) {
            this.status.textContent = this.flashMessage;
        } else {
            this.status.textContent = `${this.width}×${this.height} · ${n} box${n === 1 ? "" : "es"}` +
                (n > 30 ? " · only the 30 largest are grounded" : "") + " · drag to draw";
        }
    }

    renderList() {
        const boxes = this.state.boxes;
        const active = document.activeElement;
        const focused = this.list.contains(active) ? [...this.list.querySelectorAll("input")].indexOf(active) : -1;
        if (this.list.childElementCount !== boxes.length) {
            this.list.replaceChildren(...boxes.map((_, i) => this.row(i)));
        }
        [...this.list.children].forEach((row, i) => {
            const b = boxes[i];
            row.classList.toggle("gbe-selected", i === this.selected);
            row.querySelector(".gbe-swatch").style.background = boxColour(i);
            const input = row.querySelector("input");
            if (i !== focused && input.value !== b.phrase) input.value = b.phrase;
            input.classList.toggle("gbe-empty", !b.phrase.trim());
            const px = b.box.map((v, k) => Math.round(v * (k % 2 ? this.height : this.width)));
            row.querySelector(".gbe-coords").textContent = `x ${px[0]}–${px[2]} · y ${px[1]}–${px[3]} px`;
        });
    }

    row(i) {
        const row = document.createElement("div");
        row.className = "gbe-row";
        row.innerHTML = `<span class="gbe-swatch"></span><input type="text" placeholder="what goes in box ${i + 1}">` +
            `<span class="gbe-coords"></span><button title="Delete this box">✕</button>`;
        const input = row.querySelector("input");
        let before = null;
        input.addEventListener("focus", () => { before = this.json.value; this.selected = i; this.render(); });
        input.addEventListener("input", () => this.edit((s) => { s.boxes[i].phrase = input.value; }, { undoable: false }));
        input.addEventListener("change", () => {
            if (before !== null && before !== this.json.value) this.undoStack.push(before);
            before = this.json.value;
        });
        input.addEventListener("keydown", (e) => e.stopPropagation());
        row.querySelector("button").addEventListener("click", () => {
            if (this.edit((s) => { s.boxes.splice(i, 1); })) this.selected = -1;
            this.render();
        });
        return row;
    }
}

// The newer Vue node renderer of this frontend version does not mount custom DOM widgets inside nodes.
// There, the editor of the selected GroundingBoxes node opens in a floating panel instead; in the classic
// canvas the panel is never used, because the node itself shows the editor.
let panel = null;

function floatingPanel() {
    if (panel) return panel;
    panel = document.createElement("div");
    panel.className = "gligen-box-panel";
    panel.innerHTML = `<div class="gbp-title"><span></span><button title="Close">✕</button></div>`;
    panel.querySelector("button").addEventListener("click", () => { panel.style.display = "none"; });
    for (const type of ["pointerdown", "wheel", "contextmenu", "keydown"]) panel.addEventListener(type, (e) => e.stopPropagation());
    document.body.appendChild(panel);
    return panel;
}

function showFloatingEditor() {
    const selected = Object.values(app.canvas?.selected_nodes ?? {});
    const node = selected.length === 1 && selected[0].type === NODE_TYPE ? selected[0] : null;
    const editor = node?.gligenEditor;
    const inNode = editor && editor.root.isConnected && !panel?.contains(editor.root);
    if (!editor || inNode) {
        if (panel) panel.style.display = "none";
        return;
    }
    const p = floatingPanel();
    p.querySelector(".gbp-title span").textContent = `GroundingBoxes #${node.id}: box editor`;
    for (const child of [...p.children]) if (child !== p.firstElementChild && child !== editor.root) child.remove();
    if (editor.root.parentElement !== p) p.appendChild(editor.root);
    p.style.display = "flex";
    editor.render();
}

app.registerExtension({
    name: "gligen_grounding.BoxEditor",
    async setup() {
        const canvas = app.canvas;
        const previous = canvas.onSelectionChange;
        canvas.onSelectionChange = function (...args) {
            const r = previous?.apply(this, args);
            requestAnimationFrame(showFloatingEditor);   // after the renderer has (or has not) mounted the widget
            return r;
        };
    },
    async beforeRegisterNodeDef(nodeType, nodeData) {
        if (nodeData?.name !== NODE_TYPE) return;
        const onNodeCreated = nodeType.prototype.onNodeCreated;
        nodeType.prototype.onNodeCreated = function (...args) {
            const r = onNodeCreated?.apply(this, args);
            this.gligenEditor = new BoxEditor(this);
            this.setSize([Math.max(this.size[0], 420), Math.max(this.size[1], 720)]);
            return r;
        };
        const onExecuted = nodeType.prototype.onExecuted;
        nodeType.prototype.onExecuted = function (message) {
            const r = onExecuted?.apply(this, arguments);
            this.gligenEditor?.onExecuted(message);
            return r;
        };
    },
});

export { parseState, formatState, boxColour };
