// The GroundingBoxes box editor, registered with ComfyUI's frontend. The parts, each a module of exports
// only (the frontend imports every .js file here, so they must do nothing when imported on their own):
//   box_editor/state.js   the boxes JSON: read, checked exactly as the backend checks it, and written
//   box_editor/pyjson.js  JSON and text forms as Python's json module and repr() give them
//   box_editor/canvas.js  the editor in the node: canvas, list, toolbar
//   box_editor/draw.js    the boxes drawn on its canvas
//   box_editor/panel.js   the floating panel for the newer Vue node renderer
//   box_editor/family.js  the default canvas that follows the loader's adapter (1024 for SDXL)
//   box_editor/style.js   their CSS
// This file wires them to the node's lifecycle: built when the node is created, restored from the saved
// text when it is configured, disposed (observers disconnected, panel removed) when it is removed.
import { app } from "../../../scripts/app.js";
import { api } from "../../../scripts/api.js";
import { BoxEditor } from "./box_editor/canvas.js";
import { FloatingPanel } from "./box_editor/panel.js";
import { CanvasFamily, LOADERS } from "./box_editor/family.js";

const NODE_TYPE = "GLIGENGroundingBoxes";
const panel = new FloatingPanel(document);
const family = new CanvasFamily({ app, api }, NODE_TYPE);

// After a selection change: in the Vue renderer, show the selected node's editor in the panel; in the
// classic canvas the node shows its own editor, and the panel stays hidden.
function showSelectedEditor() {
    const selected = Object.values(app.canvas?.selected_nodes ?? {});
    const node = selected.length === 1 && selected[0].type === NODE_TYPE ? selected[0] : null;
    const editor = node?.gligenEditor;
    const inNode = editor && editor.root.isConnected && !panel.holds(editor);
    if (!editor || editor.disposed || inNode) return panel.hide();
    panel.show(editor, `GroundingBoxes #${node.id}: box editor`);
}

function chain(proto, name, after) {
    const previous = proto[name];
    proto[name] = function (...args) {
        const r = previous?.apply(this, args);
        after.call(this, ...args);
        return r;
    };
}

app.registerExtension({
    name: "gligen_grounding.BoxEditor",
    async setup() {
        const canvas = app.canvas;
        const previous = canvas.onSelectionChange;
        canvas.onSelectionChange = function (...args) {
            const r = previous?.apply(this, args);
            requestAnimationFrame(showSelectedEditor);   // after the renderer has (or has not) mounted the widget
            return r;
        };
    },
    async beforeRegisterNodeDef(nodeType, nodeData) {
        const loaderWidget = LOADERS[nodeData?.name];
        if (loaderWidget) {   // a GLIGEN loader: its file decides the default canvas of GroundingBoxes
            chain(nodeType.prototype, "onNodeCreated", function () {
                const widget = this.widgets?.find((w) => w.name === loaderWidget);
                const previous = widget?.callback;
                if (widget) widget.callback = function (...args) {
                    const r = previous?.apply(this, args);
                    family.update();
                    return r;
                };
                family.updateWhenAdded(this);
            });
            chain(nodeType.prototype, "onConfigure", function () { this.gligenConfigured = true; });
        }
        if (nodeData?.name !== NODE_TYPE) return;
        const proto = nodeType.prototype;
        family.defaultText = nodeData.input?.required?.boxes_json?.[1]?.default ?? null;
        chain(proto, "onNodeCreated", function () {
            this.gligenEditor = new BoxEditor(this, { app, api });
            this.setSize([Math.max(this.size[0], 420), Math.max(this.size[1], 720)]);
            family.updateWhenAdded(this);
        });
        chain(proto, "onConfigure", function () {
            this.gligenConfigured = true;
            this.gligenEditor?.restore();
        });
        chain(proto, "onRemoved", function () {
            panel.release(this.gligenEditor);
            this.gligenEditor?.dispose();
        });
        chain(proto, "onExecuted", function (message) {
            this.gligenEditor?.onExecuted(message);
        });
    },
});
