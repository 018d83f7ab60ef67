// Boxes that move, appear and leave over frames: gligen_core/keyframes.py step for step (same keys, same
// checks, same messages, same interpolation), and the editor's frame slider.
//
// In the JSON an entry may carry "keyframes": [{"frame": n, "box": [...]} ...] instead of one "box", and
// "appear", "leave" (the first frame without it) and "ease"; "frames" beside "boxes" is the slider's
// length. On the canvas, dragging a box while the slider is at frame k (with more than one frame) sets
// a keyframe at k; the boxes shown are those of frame k, interpolated as the backend interpolates them.
//
// A module of exports only: ComfyUI's frontend imports every .js file of the pack, this one included.
import { JsonInt, JsonObject, compareStr, dumps, repr, strip } from "./pyjson.js";

export const TIMING_KEYS = ["keyframes", "appear", "leave", "ease"];
export const MAX_FRAMES = 100000;
const KEYFRAME_KEYS = ["frame", "box", "box_px"];
const EASES = {
    linear: (t) => t,
    ease_in: (t) => t * t,
    ease_out: (t) => 1.0 - (1.0 - t) * (1.0 - t),
    ease_in_out: (t) => t * t * (3.0 - 2.0 * t),
};
export const EASE_NAMES = Object.keys(EASES);
const TIMED_SHAPE = "an entry has 'phrase', either 'box'/'box_px' or 'keyframes' (a list of {\"frame\": n, " +
    "\"box\": [x0, y0, x1, y1]}), and optionally 'appear', 'leave' and 'ease'";

export const isTimed = (entry) => entry instanceof JsonObject && TIMING_KEYS.some((k) => entry.has(k));

function whole(where, key, v, low, Err) {
    if (!(v instanceof JsonInt) || !(v.value >= low && v.value <= MAX_FRAMES))
        throw new Err(`${where}: '${key}' must be a whole number of frames from ${low} to ${MAX_FRAMES}, got ${dumps(v)}.`);
    return v.value;
}

/** The 'frames' beside 'boxes' (boxes.py _frames), or null. */
export function framesOf(data, Err) {
    if (!data.has("frames")) return null;
    const v = data.get("frames");
    if (!(v instanceof JsonInt) || !(v.value >= 1 && v.value <= MAX_FRAMES))
        throw new Err(`the boxes JSON: 'frames' must be a whole number of frames from 1 to ${MAX_FRAMES}, got ${dumps(v)}.`);
    return v.value;
}

function keyframesOf(where, raw, boxOf, Err) {
    if (!Array.isArray(raw) || !raw.length)
        throw new Err(`${where}: 'keyframes' must be a non-empty list like [{"frame": 0, "box": [0.1, 0.1, 0.5, 0.5]}], ` +
            `got ${dumps(raw).slice(0, 80)}.`);
    const out = new Map();
    raw.forEach((k, n) => {
        let at = `${where}, keyframe #${n + 1}`;
        if (!(k instanceof JsonObject))
            throw new Err(`${at} must be an object like {"frame": 0, "box": [0.1, 0.1, 0.5, 0.5]}, got ${dumps(k).slice(0, 80)}.`);
        const unknown = [...new Set(k.keys())].filter((x) => !KEYFRAME_KEYS.includes(x)).sort(compareStr);
        if (unknown.length)
            throw new Err(`${at}: unknown key${unknown.length > 1 ? "s" : ""} ${unknown.map(repr).join(", ")}; a keyframe ` +
                "has 'frame' and either 'box' (normalised 0..1) or 'box_px' (pixels).");
        if (!k.has("frame")) throw new Err(`${at}: 'frame' is missing; say which frame (from 0) this box is at.`);
        const frame = whole(at, "frame", k.get("frame"), 0, Err);
        at = `${where}, keyframe at frame ${frame}`;
        if (out.has(frame)) throw new Err(`${at}: the box has two keyframes at this frame; keep one.`);
        out.set(frame, { frame, box: boxOf(at, k) });
    });
    return [...out.keys()].sort((a, b) => a - b).map((f) => out.get(f));
}

/**
 * One entry with timing keys (keyframes.py parse_track). `checkEntry(allowedExtra, shape)` runs the checks
 * every entry gets and returns the phrase; `boxOf(where, obj)` checks one box; `where` names the entry.
 * Returns {phrase, keyframes: [{frame, box}], appear, leave, ease, box (the first keyframe's)}.
 */
export function parseTimed(entry, where, checkEntry, boxOf, Err) {
    const phrase = checkEntry(TIMING_KEYS, TIMED_SHAPE);
    let keyframes;
    if (entry.has("keyframes")) {
        if (entry.has("box") || entry.has("box_px"))
            throw new Err(`${where}: give either 'keyframes' or one '${entry.has("box") ? "box" : "box_px"}', not both ` +
                "(a box that does not move needs no keyframes).");
        keyframes = keyframesOf(where, entry.get("keyframes"), boxOf, Err);
    } else {
        keyframes = [{ frame: 0, box: boxOf(where, entry) }];
    }
    const appear = entry.has("appear") ? whole(where, "appear", entry.get("appear"), 0, Err) : 0;
    let leave = entry.has("leave") ? entry.get("leave") : null;
    if (leave !== null) {
        leave = whole(where, "leave", leave, 1, Err);
        if (leave <= appear)
            throw new Err(`${where}: 'leave' = ${leave} is not after 'appear' = ${appear}; 'leave' is the first frame ` +
                "without the box, so the box would never be shown.");
    }
    const ease = entry.has("ease") ? entry.get("ease") : "linear";
    if (typeof ease !== "string" || !Object.hasOwn(EASES, ease))
        throw new Err(`${where}: 'ease' = ${dumps(ease)} is not one of ${EASE_NAMES.map(repr).join(", ")}.`);
    return { phrase, keyframes, appear, leave, ease, box: keyframes[0].box, timed: true };
}

/** The box of an editor/parsed entry at `frame`, or null where it is absent (Track.box_at). */
export function boxAtFrame(b, frame) {
    if (!b.timed) return b.box;
    if (frame < b.appear || (b.leave !== null && b.leave !== undefined && frame >= b.leave)) return null;
    const kf = b.keyframes;
    if (frame <= kf[0].frame) return kf[0].box;
    if (frame >= kf[kf.length - 1].frame) return kf[kf.length - 1].box;
    const z = kf.findIndex((k) => k.frame >= frame);
    const a = kf[z - 1], c = kf[z];
    const t = EASES[b.ease]((frame - a.frame) / (c.frame - a.frame));
    return a.box.map((p, i) => p + (c.box[i] - p) * t);
}

/** An entry with a keyframe at `frame` holding `box` (a still box becomes a moving one). */
export function setKeyframe(b, frame, box) {
    if (!b.timed) {
        const keyframes = frame === 0 ? [{ frame: 0, box }] : [{ frame: 0, box: b.box }, { frame, box }];
        return Object.assign(b, { timed: true, keyframes, appear: 0, leave: null, ease: "linear", box: keyframes[0].box });
    }
    const keyframes = b.keyframes.filter((k) => k.frame !== frame).concat([{ frame, box }]).sort((x, y) => x.frame - y.frame);
    return Object.assign(b, { keyframes, box: keyframes[0].box });
}

const round6 = (v) => Math.round(v * 1e6) / 1e6;

/** The JSON entry of an editor box with timing (formatState writes the others). */
export function timedJson(b) {
    const e = { phrase: b.phrase, keyframes: b.keyframes.map((k) => ({ frame: k.frame, box: k.box.map(round6) })) };
    if (b.appear) e.appear = b.appear;
    if (b.leave !== null && b.leave !== undefined) e.leave = b.leave;
    if (b.ease && b.ease !== "linear") e.ease = b.ease;
    return e;
}

/** The frame slider of an editor: a frame count (1: a still layout) and the frame shown and edited. */
export class FrameSlider {
    constructor(editor, toolbar) {
        this.editor = editor;
        const el = document.createElement("span");
        el.className = "gbe-frames";
        el.innerHTML = `<label title="How many frames the layout spans (the batch of an animation); 1 is a still layout">` +
            `frames <input type="number" min="1" max="${MAX_FRAMES}" step="1" value="1" class="gbe-frame-count"></label>` +
            `<input type="range" min="0" max="0" step="1" value="0" class="gbe-frame" title="The frame shown; drag a box ` +
            `here to set a keyframe at this frame"><span class="gbe-frame-label"></span>`;
        toolbar.insertBefore(el, toolbar.querySelector(".gbe-status"));
        this.count = el.querySelector(".gbe-frame-count");
        this.range = el.querySelector(".gbe-frame");
        this.label = el.querySelector(".gbe-frame-label");
        for (const input of [this.count, this.range]) {
            input.addEventListener("keydown", (e) => e.stopPropagation());
            input.addEventListener("pointerdown", (e) => e.stopPropagation());
        }
        this.count.addEventListener("change", () => {
            const n = Math.max(1, Math.min(MAX_FRAMES, Math.round(Number(this.count.value)) || 1));
            editor.edit((s) => { if (n > 1) s.extra.frames = n; else delete s.extra.frames; });
        });
        this.range.addEventListener("input", () => { editor.frame = Number(this.range.value); editor.render(); });
    }

    get frames() {
        const n = this.editor.state.extra?.frames;
        return Number.isInteger(n) && n > 1 ? n : 1;
    }

    render() {
        const n = this.frames;
        if (this.editor.frame > n - 1) this.editor.frame = n - 1;
        if (document.activeElement !== this.count) this.count.value = String(n);
        this.range.max = String(n - 1);
        this.range.value = String(this.editor.frame);
        this.range.disabled = n <= 1;
        this.label.textContent = n > 1 ? `frame ${this.editor.frame}` : "";
    }
}

export const isBlank = (phrase) => !strip(phrase);
