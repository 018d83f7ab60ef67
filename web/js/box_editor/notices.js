// Inline notices of the box editor: a line under the toolbar that says what just happened and offers to
// take it back. Nothing in the editor opens a browser dialog (confirm, alert, prompt): they stop the
// whole page until answered, and an automated page never answers them.
//
// A module of exports only: ComfyUI's frontend imports every .js file of the pack, this one included.

export const NOTICE_MS = 8000;

export class Notice {
    /** `root`: the element to show the notice in (placed after the toolbar). */
    constructor(root) {
        this.el = document.createElement("div");
        this.el.className = "gbe-notice";
        this.el.hidden = true;
        this.text = document.createElement("span");
        this.button = document.createElement("button");
        this.button.dataset.act = "notice-undo";
        this.button.textContent = "Undo";
        this.el.append(this.text, this.button);
        root.querySelector(".gbe-toolbar").after(this.el);
        this.action = null;
        this.button.addEventListener("click", () => {
            const action = this.action;
            this.hide();
            action?.();
        });
    }

    /** Show `message`; with `undo`, an Undo button that runs it. */
    show(message, undo = null) {
        clearTimeout(this.timer);
        this.text.textContent = message;
        this.action = undo;
        this.button.hidden = !undo;
        this.el.hidden = false;
        this.timer = setTimeout(() => this.hide(), NOTICE_MS);
    }

    hide() {
        clearTimeout(this.timer);
        this.el.hidden = true;
        this.action = null;
    }

    dispose() {
        this.hide();
    }
}
