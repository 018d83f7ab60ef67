// Typed coordinates of the selected box: four number fields (left, top, right, bottom in pixels of the
// canvas) under the list, hidden (but keeping their room) while no box is selected. A value that would not make a box on the canvas is named inline and changes
// nothing; a valid one is one undoable edit.
//
// A module of exports only: ComfyUI's frontend imports every .js file of the pack, this one included.

const FIELDS = ["x0", "y0", "x1", "y1"];

export class CoordsForm {
    /** `editor`: the BoxEditor; the form goes at the end of its root element. */
    constructor(editor) {
        this.editor = editor;
        this.el = document.createElement("div");
        this.el.className = "gbe-coords-form";
        this.el.innerHTML = `<span class="gbe-coords-label"></span>` + FIELDS.map((f) =>
            `<label>${f} <input type="number" step="1" data-field="${f}"></label>`).join("") + " px";
        this.label = this.el.querySelector(".gbe-coords-label");
        this.inputs = Object.fromEntries(FIELDS.map((f) => [f, this.el.querySelector(`input[data-field=${f}]`)]));
        for (const input of Object.values(this.inputs)) {
            input.addEventListener("change", () => this.apply());
            input.addEventListener("keydown", (e) => {
                e.stopPropagation();   // Delete, arrows and Ctrl+Z edit the number, not the graph or the box
                if (e.key === "Enter") this.apply();
            });
        }
        editor.root.append(this.el);
    }

    /** The selected box's pixels in the fields (a field being typed in is left alone). */
    render() {
        const ed = this.editor, b = ed.state.boxes[ed.selected];
        // kept in the layout when nothing is selected: the canvas must not change size under a click
        this.el.style.visibility = b ? "" : "hidden";
        if (!b) return;
        this.label.textContent = `box ${ed.selected + 1}:`;
        b.box.forEach((v, k) => {
            const input = this.inputs[FIELDS[k]];
            const px = +(v * (k % 2 ? ed.height : ed.width)).toFixed(2);
            if (document.activeElement !== input && Number(input.value) !== px) input.value = String(px);
        });
    }

    apply() {
        const ed = this.editor, i = ed.selected;
        if (i < 0 || i >= ed.state.boxes.length) return;
        const [x0, y0, x1, y1] = FIELDS.map((f) => Number(this.inputs[f].value));
        const W = ed.width, H = ed.height;
        let problem = null;
        if (![x0, y0, x1, y1].every(Number.isFinite) || FIELDS.some((f) => this.inputs[f].value.trim() === ""))
            problem = "every coordinate needs a number";
        else if (x0 < 0 || y0 < 0 || x1 > W || y1 > H)
            problem = `the box must lie on the ${W}×${H} canvas (x 0–${W}, y 0–${H})`;
        else if (x1 <= x0 || y1 <= y0)
            problem = "x1 must be more than x0 and y1 more than y0";
        if (problem) {
            ed.notice.show(`Box ${i + 1} not changed: ${problem}.`);
            return;
        }
        ed.edit((s) => { s.boxes[i].box = [x0 / W, y0 / H, x1 / W, y1 / H].map((v) => +v.toFixed(6)); });
        ed.render();
    }
}
