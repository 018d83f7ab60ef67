// The boxes JSON: what the GroundingBoxes node accepts, and the box editor's state read from and written
// to it. parseBoxes() is gligen_core/boxes.py's parse_boxes() step for step: it accepts and refuses the
// same text with the same messages, so the editor says what queueing would say without running anything.
// tests/cases/boxes_parse_cases.json holds the cases both are tested on; change them together.
//
// A module of exports only: ComfyUI's frontend imports every .js file of the pack, this one included.
import {
    JsonInt, JsonObject, JsonSyntaxError, compareStr, dumps, formatG, floatRepr, isNumber, loads, nestingDepthExceeded,
    numberValue, repeatedKey, repr, reprValue, strip, toPlain,
} from "./pyjson.js";
import { framesOf, isTimed, parseTimed, timedJson } from "./keyframes.js";

export const MAX_BOXES = 30;           // gligen_core.tokenizer.MAX_OBJECTS
export const MAX_DEPTH = 32;           // gligen_core.box_json.MAX_DEPTH
const ENTRY_KEYS = ["phrase", "box", "box_px", "image"];
export const EDITOR_KEYS = ["color", "id"];   // written by the editor, ignored by the backend
const NAMES = ["x0", "y0", "x1", "y1"];

export class BoxesError extends Error {}

function where(i, entry) {
    const phrase = entry instanceof JsonObject ? entry.get("phrase") : undefined;
    return `box #${i + 1}` + (typeof phrase === "string" && strip(phrase) ? ` (${repr(phrase)})` : "");
}

function checkCanvas(width, height) {
    for (const [name, v] of [["width", width], ["height", height]])
        if (typeof v !== "number" || !Number.isInteger(v) || v <= 0)
            throw new BoxesError(`canvas ${name} must be a positive whole number of pixels, got ${reprValue(v)}.`);
}

const EMPTY = Symbol("no boxes");

// The JSON value of the text, or EMPTY for empty text (no boxes).
function read(text) {
    if (text === null || text === undefined || !strip(String(text))) return EMPTY;
    text = String(text);
    if (nestingDepthExceeded(text, MAX_DEPTH))
        throw new BoxesError(`the boxes JSON is nested more than ${MAX_DEPTH} levels deep; a list of boxes ` +
            `needs 3 levels (4 inside {"boxes": [...]}).`);
    try {
        return loads(text);
    } catch (e) {
        if (!(e instanceof JsonSyntaxError)) throw e;
        const msg = e.msg.replace(/ at$/, "");   // "Unterminated string starting at", "Invalid control character at"
        throw new BoxesError(`the boxes are not valid JSON (${msg} at line ${e.lineno}, column ${e.colno}). ` +
            'Expected a list like [{"phrase": "a cat", "box": [0.1, 0.2, 0.5, 0.9]}].');
    }
}

function entriesOf(data) {
    if (data instanceof JsonObject) {
        let repeated = data.repeated;
        if (repeated === null) repeated = repeatedKey(data.entries().filter(([k]) => k !== "boxes").map(([, v]) => v));
        if (repeated !== null)
            throw new BoxesError(`the boxes JSON gives the key ${repr(repeated)} twice in one object; remove one ` +
                "(JSON would silently keep the last).");
        if (!data.has("boxes"))
            throw new BoxesError("the boxes JSON is an object without a 'boxes' list; give a list of boxes " +
                'or {"boxes": [...]}.');
        framesOf(data, BoxesError);
        data = data.get("boxes");
    }
    if (!Array.isArray(data)) throw new BoxesError(`the boxes JSON must be a list of boxes, got ${dumps(data).slice(0, 80)}.`);
    return data;
}

function coords(at, entry, key) {
    const raw = entry.get(key);
    if (!Array.isArray(raw) || raw.length !== 4)
        throw new BoxesError(`${at}: '${key}' must be a list of 4 numbers [x0, y0, x1, y1], got ${dumps(raw)}.`);
    return raw.map((v, k) => {
        if (!isNumber(v)) throw new BoxesError(`${at}: ${NAMES[k]} in '${key}' must be a number, got ${dumps(v)}.`);
        const f = numberValue(v);
        if (!Number.isFinite(f)) throw new BoxesError(`${at}: ${NAMES[k]} in '${key}' is ${floatRepr(f)}; give a finite number.`);
        return f;
    });
}

// The checks every entry gets (boxes.py entry_phrase): an object, no key twice, only known keys (plus
// `extraKeys`; `shape` says what an entry has), a phrase. `draft`: the editor's reading, which lets a box
// wait for its phrase (a box just drawn has none yet) and keeps the phrase as typed.
function checkEntry(i, entry, extraKeys, shape, draft) {
    if (!(entry instanceof JsonObject))
        throw new BoxesError(`box #${i + 1} must be an object like {"phrase": "a cat", "box": [0.1, 0.1, 0.5, 0.5]}, ` +
            `got ${dumps(entry).slice(0, 80)}.`);
    const repeated = repeatedKey([entry]);
    if (repeated !== null)
        throw new BoxesError(`${where(i, entry)}: the key ${repr(repeated)} is given twice; remove one ` +
            "(JSON would silently keep the last).");
    const unknown = [...new Set(entry.keys())]
        .filter((k) => !ENTRY_KEYS.includes(k) && !EDITOR_KEYS.includes(k) && !extraKeys.includes(k)).sort(compareStr);
    if (unknown.length)
        throw new BoxesError(`${where(i, entry)}: unknown key${unknown.length > 1 ? "s" : ""} ` +
            `${unknown.map(repr).join(", ")}; ${shape}.`);
    const image = imageIndex(i, entry);
    const phrase = entry.has("phrase") ? entry.get("phrase") : (image !== null ? "" : null);
    if (typeof phrase !== "string") throw new BoxesError(`${where(i, entry)}: 'phrase' must be text, got ${dumps(phrase)}.`);
    if (!draft && !strip(phrase) && image === null)
        throw new BoxesError(`${where(i, entry)}: the phrase is empty; name what goes in the box (e.g. "a red car") ` +
            "or delete the box.");
    return draft ? phrase : strip(phrase);
}

// The checked box of `entry` ('box' or 'box_px'), normalised (boxes.py box_of); `at` names it in errors.
function boxOf(at, entry, width, height) {
    const hasNorm = entry.has("box"), hasPx = entry.has("box_px");
    if (hasNorm === hasPx)
        throw new BoxesError(`${at}: give exactly one of 'box' (normalised 0..1) or 'box_px' (pixels), ` +
            `${hasNorm ? "not both" : "none was given"}.`);
    let box;
    if (hasNorm) {
        box = coords(at, entry, "box");
        box.forEach((v, k) => {
            if (!(v >= 0 && v <= 1))
                throw new BoxesError(`${at}: ${NAMES[k]} = ${formatG(v)} is outside 0..1. 'box' is normalised ` +
                    "to the canvas; use 'box_px' for pixel coordinates.");
        });
    } else {
        const px = coords(at, entry, "box_px");
        px.forEach((v, k) => {
            const limit = k % 2 ? height : width;
            if (!(v >= 0 && v <= limit))
                throw new BoxesError(`${at}: ${NAMES[k]} = ${formatG(v)} px is outside the ${width}x${height} ` +
                    `canvas (0..${limit}). Move the box inside or enlarge the canvas.`);
        });
        box = [px[0] / width, px[1] / height, px[2] / width, px[3] / height];
    }
    const [x0, y0, x1, y1] = box;
    if (x1 < x0 || y1 < y0)
        throw new BoxesError(`${at}: ${x1 < x0 ? "x1 is left of x0" : "y1 is above y0"}; boxes are ` +
            "[x0, y0, x1, y1] with the top-left corner first. Swap the coordinates.");
    if (x1 === x0 || y1 === y0) throw new BoxesError(`${at}: the box has zero area; give it a width and a height.`);
    return box;
}

// The entry's "image": a whole number >= 0 naming a reference image (null when absent); _image_index().
function imageIndex(i, entry) {
    if (!entry.has("image")) return null;
    const v = entry.get("image");
    if (!(v instanceof JsonInt) || v.value < 0 || !Number.isSafeInteger(v.value))
        throw new BoxesError(`${where(i, entry)}: 'image' must be the index of a reference image in the IMAGE batch ` +
            `connected to 'images' (0 for the first), got ${dumps(v)}.`);
    return v.value;
}

// One entry, checked as parse_boxes checks it; an entry with keyframes, 'appear', 'leave' or 'ease' as
// keyframes.py's parse_track checks it (keyframes.js).
function parseEntry(i, entry, width, height, draft = false) {
    if (isTimed(entry))
        return parseTimed(entry, where(i, entry), (extra, shape) => checkEntry(i, entry, extra, shape, draft),
            (at, obj) => boxOf(at, obj, width, height), BoxesError);
    const phrase = checkEntry(i, entry, [],
        "an entry has 'phrase' and either 'box' (normalised 0..1) or 'box_px' (pixels)", draft);
    const out = { phrase, box: boxOf(where(i, entry), entry, width, height) };
    const image = imageIndex(i, entry);
    if (image !== null) out.image = image;
    return out;
}

const area = (b) => (b.box[2] - b.box[0]) * (b.box[3] - b.box[1]);

/** The `limit` largest boxes (ties: earlier first) in their order, and the others (keep_largest). */
export function keepLargest(boxes, limit = MAX_BOXES) {
    if (boxes.length <= limit) return [boxes.slice(), []];
    const order = boxes.map((b, i) => [area(b), i]).sort((a, b) => (a[0] !== b[0] ? b[0] - a[0] : a[1] - b[1]));
    const keep = new Set(order.slice(0, limit).map(([, i]) => i));
    return [boxes.filter((_, i) => keep.has(i)), boxes.filter((_, i) => !keep.has(i))];
}

// keyframes.py parse_animated: reference images are not supported with keyframes yet.
function refuseTimedImages(entries) {
    const k = entries.findIndex((e) => e instanceof JsonObject && e.has("image"));
    if (k >= 0)
        throw new BoxesError(`${where(k, entries[k])}: a reference image ('image') is not supported yet in a layout ` +
            "with keyframes, 'appear' or 'leave'; remove 'image' from the box, or ground the image boxes in a layout " +
            "without keyframes.");
}

/** parse_boxes(): {width, height, boxes: [{phrase, box}], dropped}; throws BoxesError with its message. */
export function parseBoxes(text, width, height, maxBoxes = MAX_BOXES) {
    checkCanvas(width, height);
    const data = read(text);
    const entries = data === EMPTY ? [] : entriesOf(data);
    const boxes = entries.map((e, i) => parseEntry(i, e, width, height));
    if (boxes.some((b) => b.timed)) {   // keyframes.py parse_animated: no keep-the-largest over time
        refuseTimedImages(entries);
        if (boxes.length > maxBoxes)
            throw new BoxesError(`a layout with keyframes grounds at most ${maxBoxes} boxes and this one has ` +
                `${boxes.length}; remove ${boxes.length - maxBoxes} (the keep-the-largest rule of a still layout has ` +
                "no single answer when boxes change size).");
        return { width, height, boxes, dropped: [], animated: true };
    }
    const [kept, dropped] = keepLargest(boxes, maxBoxes);
    return { width, height, boxes: kept, dropped };
}

/**
 * The editor's state: {boxes: [{phrase, box, color?, id?}], extra: {...other top-level keys}}, every box
 * kept (the status line says when more than 30 are), phrases as typed. Refuses what parseBoxes refuses,
 * except a box without a phrase yet; throws BoxesError.
 */
export function readState(text, width, height) {
    checkCanvas(width, height);
    const data = read(text);
    if (data === EMPTY) return { boxes: [], extra: {} };
    const entries = entriesOf(data);
    const boxes = entries.map((entry, i) => {
        const out = parseEntry(i, entry, width, height, true);
        for (const k of EDITOR_KEYS) if (entry.has(k)) out[k] = toPlain(entry.get(k));
        return out;
    });
    if (boxes.some((b) => b.timed)) refuseTimedImages(entries);
    const extra = {};
    if (data instanceof JsonObject)
        for (const [k, v] of data.entries())
            if (k !== "boxes") Object.defineProperty(extra, k, { value: toPlain(v), enumerable: true, writable: true, configurable: true });
    return { boxes, extra };
}

const round6 = (v) => Math.round(v * 1e6) / 1e6;

/** The text the editor writes: one box per line, normalised coordinates rounded to 1e-6. */
export function formatState(state) {
    const entries = state.boxes.map((b) => {
        const e = b.timed ? timedJson(b) : { phrase: b.phrase, box: b.box.map(round6) };
        if (!b.timed && b.image !== undefined && b.image !== null) e.image = b.image;
        for (const k of EDITOR_KEYS) if (k in b) e[k] = b[k];
        return JSON.stringify(e);
    });
    const list = entries.length ? "[\n " + entries.join(",\n ") + "\n]" : "[]";
    const extra = Object.keys(state.extra || {});
    if (!extra.length) return list;
    const rest = extra.map((k) => `${JSON.stringify(k)}: ${JSON.stringify(state.extra[k])}`).join(",\n ");
    return `{\n "boxes": ${list.replace(/\n/g, "\n ")},\n ${rest}\n}`;
}
