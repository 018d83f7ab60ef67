// Keyboard editing of the selected box on the editor's canvas: the arrow keys nudge it by one pixel of
// the canvas (Shift: ten), Ctrl+D (Cmd+D) duplicates it, placed just after it in the list. Every change is
// one undoable edit of the JSON, as a mouse edit is.
//
// A module of exports only: ComfyUI's frontend imports every .js file of the pack, this one included.

const ARROWS = { ArrowLeft: [-1, 0], ArrowRight: [1, 0], ArrowUp: [0, -1], ArrowDown: [0, 1] };
const DUPLICATE_OFFSET_PX = 10;

/** `box` moved by (dx, dy) normalised, kept inside the canvas whole. */
export function shifted(box, dx, dy) {
    const [x0, y0, x1, y1] = box;
    const mx = Math.min(Math.max(dx, -x0), 1 - x1), my = Math.min(Math.max(dy, -y0), 1 - y1);
    return [x0 + mx, y0 + my, x1 + mx, y1 + my].map((v) => +v.toFixed(6));
}

/** Handle `e` on the canvas of `editor` (a BoxEditor); true when the key was one of these. */
export function editKey(editor, e) {
    const i = editor.selected;
    if (i < 0 || i >= editor.state.boxes.length) return false;
    const step = ARROWS[e.key];
    if (step && !e.ctrlKey && !e.metaKey && !e.altKey) {
        const px = e.shiftKey ? 10 : 1;
        editor.edit((s) => { s.boxes[i].box = shifted(s.boxes[i].box, step[0] * px / editor.width, step[1] * px / editor.height); });
        return true;
    }
    if ((e.ctrlKey || e.metaKey) && !e.altKey && (e.key === "d" || e.key === "D")) {
        const copy = structuredClone(editor.state.boxes[i]);
        delete copy.id;
        copy.box = shifted(copy.box, DUPLICATE_OFFSET_PX / editor.width, DUPLICATE_OFFSET_PX / editor.height);
        if (editor.edit((s) => { s.boxes.splice(i + 1, 0, copy); })) editor.selected = i + 1;
        editor.render();
        return true;
    }
    return false;
}

/** Move box `i` of `editor` one place up (`by` -1) or down (+1) in the list: the order of the grounding
 *  tokens, and which box wins a tie of sizes when more than 30 are cut down to the 30 largest. */
export function reorder(editor, i, by) {
    const j = i + by;
    if (j < 0 || j >= editor.state.boxes.length) return;
    if (editor.edit((s) => { [s.boxes[i], s.boxes[j]] = [s.boxes[j], s.boxes[i]]; })) {
        if (editor.selected === i) editor.selected = j;
        else if (editor.selected === j) editor.selected = i;
    }
    editor.render();
}
