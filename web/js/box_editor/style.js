// The box editor's and the floating panel's CSS, added to the page once, when the first editor is built.
// A module of exports only: ComfyUI's frontend imports every .js file of the pack, this one included.

const STYLE_ID = "gligen-box-editor-style";

const STYLE = `
.gligen-box-editor { display: flex; flex-direction: column; gap: 4px; width: 100%; height: 100%;
  box-sizing: border-box; font: 12px sans-serif; color: var(--input-text, #ddd); pointer-events: auto; }
.gligen-box-editor .gbe-toolbar { display: flex; gap: 4px; align-items: center; flex-wrap: wrap; }
.gligen-box-editor button { font: inherit; padding: 1px 6px; cursor: pointer; color: inherit;
  background: var(--comfy-input-bg, #222); border: 1px solid var(--border-color, #555); border-radius: 4px; }
.gligen-box-editor .gbe-status { flex: 1; min-width: 0; overflow: hidden; text-overflow: ellipsis; white-space: nowrap; opacity: 0.8; }
.gligen-box-editor .gbe-status.gbe-error { color: #ff6b6b; opacity: 1; white-space: normal; }
.gligen-box-editor .gbe-status.gbe-warning { color: #f0b429; opacity: 1; white-space: normal; }
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
.gligen-box-editor .gbe-row input.gbe-image { flex: none; width: 44px; }
.gligen-box-editor .gbe-coords { flex: none; opacity: 0.75; font-variant-numeric: tabular-nums; }
.gligen-box-editor .gbe-notice { display: flex; gap: 6px; align-items: center; color: #f0b429; }
.gligen-box-editor .gbe-notice[hidden] { display: none; }
.gligen-box-editor .gbe-coords-form { display: flex; gap: 4px; align-items: center; flex-wrap: wrap; }
.gligen-box-editor .gbe-coords-form input { width: 56px; font: inherit; color: inherit;
  background: var(--comfy-input-bg, #222); border: 1px solid var(--border-color, #555); border-radius: 3px; }
.gligen-box-panel { position: fixed; left: 64px; bottom: 64px; width: 440px; height: 600px; z-index: 1000;
  display: flex; flex-direction: column; padding: 6px; gap: 4px; resize: both; overflow: hidden;
  background: var(--comfy-menu-bg, #202020); border: 1px solid var(--border-color, #555); border-radius: 6px;
  box-shadow: 0 4px 16px rgba(0, 0, 0, 0.5); }
.gligen-box-panel .gbp-title { display: flex; justify-content: space-between; font: 12px sans-serif;
  color: var(--input-text, #ddd); }
.gligen-box-panel .gligen-box-editor { flex: 1; min-height: 0; }
`;

/** Add the stylesheet to `doc` unless it is there already. */
export function injectStyle(doc = document) {
    if (doc.getElementById(STYLE_ID)) return;
    const el = doc.createElement("style");
    el.id = STYLE_ID;
    el.textContent = STYLE;
    doc.head.appendChild(el);
}
