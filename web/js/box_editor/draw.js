// Drawing a layout on the editor's canvas: the background, every box in its colour with its label, the
// selected box's handles and the box being drawn. Colours match the node's preview (gligen_core/preview.py).
//
// A module of exports only: ComfyUI's frontend imports every .js file of the pack, this one included.

/** The colour of box i: the same as the node's preview image (gligen_core/preview.py). */
export function boxColour(i) {
    const h = (i * 0.618033988749895) % 1, s = 0.75, v = 1;
    const k = Math.floor(h * 6), f = h * 6 - k;
    const p = v * (1 - s), q = v * (1 - f * s), t = v * (1 - (1 - f) * s);
    const [r, g, b] = [[v, t, p], [q, v, p], [p, v, t], [p, q, v], [t, p, v], [v, p, q]][k % 6];
    return `rgb(${Math.trunc(r * 255)}, ${Math.trunc(g * 255)}, ${Math.trunc(b * 255)})`;
}

/**
 * Draw on `ctx` (its canvas `width` x `height` CSS pixels at `scale` device pixels each): `boxes` are
 * normalised [x0, y0, x1, y1] with their `labels`; `selected` gets corner handles of `handle` px;
 * `drawing` is the dashed box of a drag in progress; `background` an image or null; `thumbnails[i]` the
 * reference image of box i (drawn in its bottom-right corner) or null.
 */
export function drawLayout(ctx, { width, height, scale, boxes, labels, selected, handle, background, drawing, thumbnails }) {
    ctx.setTransform(scale, 0, 0, scale, 0, 0);
    ctx.fillStyle = "#1c1c20";
    ctx.fillRect(0, 0, width, height);
    if (background) {
        ctx.globalAlpha = 0.85;
        ctx.drawImage(background, 0, 0, width, height);
        ctx.globalAlpha = 1;
    }
    ctx.font = "12px sans-serif";
    ctx.textBaseline = "top";
    boxes.forEach((b, i) => {
        const [x, y, w, h] = [b[0] * width, b[1] * height, (b[2] - b[0]) * width, (b[3] - b[1]) * height];
        const colour = boxColour(i);
        ctx.fillStyle = colour.replace("rgb", "rgba").replace(")", ", 0.12)");
        ctx.fillRect(x, y, w, h);
        ctx.strokeStyle = colour;
        ctx.lineWidth = i === selected ? 3 : 2;
        ctx.strokeRect(x, y, w, h);
        const tw = ctx.measureText(labels[i]).width;
        ctx.fillStyle = "rgba(0, 0, 0, 0.75)";
        ctx.fillRect(x + 2, y + 2, tw + 6, 16);
        ctx.fillStyle = colour;
        ctx.fillText(labels[i], x + 5, y + 4);
        const thumb = thumbnails?.[i];
        if (thumb && thumb.complete && thumb.naturalWidth) {   // the box's reference image, in its corner
            const side = Math.max(8, Math.min(40, w / 2, h / 2));
            ctx.drawImage(thumb, x + w - side - 2, y + h - side - 2, side, side);
            ctx.strokeRect(x + w - side - 2, y + h - side - 2, side, side);
        }
        if (i === selected) {
            for (const [hx, hy] of [[x, y], [x + w, y], [x, y + h], [x + w, y + h]])
                ctx.fillRect(hx - handle / 2, hy - handle / 2, handle, handle);
        }
    });
    if (drawing) {
        const b = drawing;
        ctx.setLineDash([5, 4]);
        ctx.strokeStyle = boxColour(boxes.length);
        ctx.lineWidth = 2;
        ctx.strokeRect(b[0] * width, b[1] * height, (b[2] - b[0]) * width, (b[3] - b[1]) * height);
        ctx.setLineDash([]);
    }
}
