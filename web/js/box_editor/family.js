// The default canvas of GroundingBoxes follows the model family of the GLIGEN file the graph's loader
// has selected: 1024×1024 for an SDXL adapter, 512×512 for SD1.x (and when no family is known). Only a
// node whose canvas is untouched follows: width and height still what this module (or the node's
// default) set, the boxes still the node's default text, and no canvas_from, width or height link. Once
// the user changes the size or the boxes, the node is theirs and nothing here changes it again.
//
// It acts when the user adds a GroundingBoxes node, adds a loader, or picks another file in a loader;
// never when a workflow is loaded or pasted (those values are the user's). The family comes from the
// server (GET /gligen_grounding/adapter_family, which reads the file's header).
//
// A module of exports only: ComfyUI's frontend imports every .js file of the pack, this one included.

export const LOADERS = { GLIGENAdapterLoader: "gligen_name", GLIGENLoader: "gligen_name" };
export const DEFAULT_CANVAS = 512;
const ROUTE = "/gligen_grounding/adapter_family";

const widgetOf = (node, name) => node.widgets?.find((w) => w.name === name);
const nodesOf = (graph) => graph?._nodes ?? graph?.nodes ?? [];

export class CanvasFamily {
    /** `host`: the frontend's {app, api}; `boxesType`: GroundingBoxes' node id. */
    constructor(host, boxesType) {
        this.app = host.app;
        this.api = host.api;
        this.boxesType = boxesType;
        this.defaultText = null;   // the boxes_json default, from the node's definition
        this.known = new Map();    // file name -> native canvas (number or null), answered by the server
        this.seq = 0;              // only the latest update applies its answer
    }

    /** The native canvas of a file of models/gligen: a number, or null (family without one, unknown file). */
    async canvasOf(name) {
        if (this.known.has(name)) return this.known.get(name);
        try {
            const res = await this.api.fetchApi(`${ROUTE}?${new URLSearchParams({ name })}`);
            const canvas = res.ok ? (await res.json()).canvas ?? null : null;
            if (res.ok || res.status === 404) this.known.set(name, canvas);
            return canvas;
        } catch {
            return null;   // server unreachable: leave the canvas as it is
        }
    }

    /** The canvas the graph's loaders agree on; DEFAULT_CANVAS when none is known, null when they differ. */
    async graphCanvas() {
        const names = nodesOf(this.app.graph)
            .filter((n) => LOADERS[n.type])
            .map((n) => widgetOf(n, LOADERS[n.type])?.value)
            .filter((v) => typeof v === "string" && v);
        const canvases = new Set((await Promise.all(names.map((n) => this.canvasOf(n)))).filter((c) => c));
        if (canvases.size > 1) return null;
        return canvases.size ? [...canvases][0] : DEFAULT_CANVAS;
    }

    /** Whether `node`'s canvas is still the one it got by default (see the top of this file). */
    untouched(node) {
        const w = widgetOf(node, "width");
        const h = widgetOf(node, "height");
        const json = widgetOf(node, "boxes_json");
        if (!w || !h || !json || this.defaultText === null) return false;
        const linked = (name) => node.inputs?.some((i) => i.name === name && i.link != null);
        const auto = node.gligenAutoCanvas ?? DEFAULT_CANVAS;
        return w.value === auto && h.value === auto && json.value === this.defaultText &&
            !["canvas_from", "width", "height"].some(linked);
    }

    /** Set every untouched GroundingBoxes node of the graph to the canvas of the selected adapter. */
    async update() {
        const seq = ++this.seq;
        const size = await this.graphCanvas();
        if (seq !== this.seq || size === null) return;
        for (const node of nodesOf(this.app.graph)) {
            if (node.type !== this.boxesType || !this.untouched(node)) continue;
            node.gligenAutoCanvas = size;
            for (const w of [widgetOf(node, "width"), widgetOf(node, "height")]) {
                if (w.value === size) continue;
                w.value = size;
                w.callback?.(size);   // the editor redraws its canvas
            }
        }
        this.app.graph?.setDirtyCanvas?.(true, true);
    }

    /** Update once the node is in the graph, unless it was configured from saved values (load, paste, undo). */
    updateWhenAdded(node) {
        setTimeout(() => { if (!node.gligenConfigured && node.graph) this.update(); }, 0);
    }
}
