// JSON read the way the backend reads it, and Python's text forms, so that the box editor accepts and
// refuses exactly what gligen_core/boxes.py does and words its errors the same.
//
// - loads(): CPython's json.loads (its C scanner, as in Python 3.11/3.12): NaN and +-Infinity are
//   numbers, whole numbers stay distinct from floats (Python prints 1 and 1.0 differently), errors
//   carry Python's message, line and column; objects are JsonObject, which remembers the first key
//   given twice (JSON.parse would keep the last value silently). Mirrors gligen_core/box_json.py.
// - dumps(), repr(), formatG(): Python's json.dumps (ASCII), repr(str) and format(x, "g").
// - strip(): str.strip(), whose whitespace differs from String.prototype.trim().
//
// A module of exports only: ComfyUI's frontend imports every .js file of the pack, this one included.

export const INT_MAX_STR_DIGITS = 4300;   // Python's default sys.get_int_max_str_digits()

/** A JSON whole number: Python keeps it an int (printed without ".0", exact however long). */
export class JsonInt {
    constructor(text) {
        this.text = text === "-0" ? "0" : text;
        this.value = Number(text) + 0;       // + 0: int("-0") is 0
    }
}

/** A JSON object: keys in first-seen order, the last value of each, and the first key given twice. */
export class JsonObject {
    constructor() {
        this.map = new Map();
        this.repeated = null;
    }
    set(key, value) {
        if (this.map.has(key) && this.repeated === null) this.repeated = key;
        this.map.set(key, value);
    }
    has(key) { return this.map.has(key); }
    get(key) { return this.map.get(key); }
    keys() { return [...this.map.keys()]; }
    entries() { return [...this.map.entries()]; }
}

export class JsonSyntaxError extends Error {
    constructor(msg, text, pos) {       // pos: a UTF-16 index; Python counts code points
        const before = text.slice(0, pos);
        const lineStart = before.lastIndexOf("\n") + 1;
        const lineno = (before.match(/\n/g) || []).length + 1;
        const colno = [...before.slice(lineStart)].length + 1;
        super(`${msg}: line ${lineno} column ${colno}`);
        Object.assign(this, { msg, lineno, colno });
    }
}

export const isNumber = (v) => typeof v === "number" || v instanceof JsonInt;
export const numberValue = (v) => (v instanceof JsonInt ? v.value : v);

// --- reading ------------------------------------------------------------------------------------

const isWs = (c) => c === " " || c === "\t" || c === "\n" || c === "\r";
const isDigit = (c) => c >= "0" && c <= "9";
const NUMBER = /-?(?:0|[1-9][0-9]*)(\.[0-9]+)?([eE][-+]?[0-9]+)?/y;
const HEX4 = /^[0-9a-fA-F]{4}$/;
const ESCAPES = { '"': '"', "\\": "\\", "/": "/", b: "\b", f: "\f", n: "\n", r: "\r", t: "\t" };

class NoValue {                         // Python's StopIteration(idx): "Expecting value" at idx
    constructor(pos) { this.pos = pos; }
}

function skip(s, i) {
    while (i < s.length && isWs(s[i])) i++;
    return i;
}

function scanString(s, start) {         // start: just after the opening quote
    const begin = start - 1;
    let out = "", i = start;
    for (;;) {
        let j = i;
        for (; j < s.length; j++) {
            const c = s[j];
            if (c === '"' || c === "\\") break;
            if (c.charCodeAt(0) <= 0x1f) throw new JsonSyntaxError("Invalid control character at", s, j);
        }
        if (j >= s.length) throw new JsonSyntaxError("Unterminated string starting at", s, begin);
        out += s.slice(i, j);
        if (s[j] === '"') return [out, j + 1];
        j++;                            // past the backslash
        if (j >= s.length) throw new JsonSyntaxError("Unterminated string starting at", s, begin);
        const c = s[j];
        if (c !== "u") {
            if (!(c in ESCAPES)) throw new JsonSyntaxError("Invalid \\escape", s, j - 1);
            out += ESCAPES[c];
            i = j + 1;
            continue;
        }
        const hex = s.slice(j + 1, j + 5);
        if (j + 5 >= s.length || !HEX4.test(hex)) throw new JsonSyntaxError("Invalid \\uXXXX escape", s, j);
        out += String.fromCharCode(parseInt(hex, 16));   // surrogate pairs join as UTF-16 by themselves
        i = j + 5;
    }
}

function scanNumber(s, i) {
    NUMBER.lastIndex = i;
    const m = NUMBER.exec(s);
    if (!m) throw new NoValue(i);
    const text = m[0], end = i + text.length;
    if (m[1] !== undefined || m[2] !== undefined) return [Number(text), end];
    const digits = text.length - (text[0] === "-" ? 1 : 0);
    return [digits > INT_MAX_STR_DIGITS ? Number(text) : new JsonInt(text), end];   // as box_json._int
}

function scanOnce(s, i) {
    if (i >= s.length) throw new NoValue(i);
    const c = s[i];
    if (c === '"') return scanString(s, i + 1);
    if (c === "{") return scanObject(s, i + 1);
    if (c === "[") return scanArray(s, i + 1);
    for (const [word, value] of LITERALS) if (s.startsWith(word, i)) return [value, i + word.length];
    return scanNumber(s, i);
}

const LITERALS = [["null", null], ["true", true], ["false", false], ["NaN", NaN], ["Infinity", Infinity],
                  ["-Infinity", -Infinity]];

function scanObject(s, i) {
    const obj = new JsonObject();
    i = skip(s, i);
    if (i >= s.length || s[i] !== "}") {
        for (;;) {
            if (i >= s.length || s[i] !== '"')
                throw new JsonSyntaxError("Expecting property name enclosed in double quotes", s, i);
            let key;
            [key, i] = scanString(s, i + 1);
            i = skip(s, i);
            if (i >= s.length || s[i] !== ":") throw new JsonSyntaxError("Expecting ':' delimiter", s, i);
            i = skip(s, i + 1);
            let value;
            [value, i] = scanOnce(s, i);
            obj.set(key, value);
            i = skip(s, i);
            if (i < s.length && s[i] === "}") break;
            if (i >= s.length || s[i] !== ",") throw new JsonSyntaxError("Expecting ',' delimiter", s, i);
            i = skip(s, i + 1);
        }
    }
    return [obj, i + 1];
}

function scanArray(s, i) {
    const list = [];
    i = skip(s, i);
    if (i >= s.length || s[i] !== "]") {
        for (;;) {
            let value;
            [value, i] = scanOnce(s, i);
            list.push(value);
            i = skip(s, i);
            if (i < s.length && s[i] === "]") break;
            if (i >= s.length || s[i] !== ",") throw new JsonSyntaxError("Expecting ',' delimiter", s, i);
            i = skip(s, i + 1);
        }
    }
    return [list, i + 1];
}

/** Python's json.loads(text) with box_json's object and int hooks. Throws JsonSyntaxError. */
export function loads(text) {
    if (text.startsWith("\ufeff")) throw new JsonSyntaxError("Unexpected UTF-8 BOM (decode using utf-8-sig)", text, 0);
    const start = skip(text, 0);
    let value, end;
    try {
        [value, end] = scanOnce(text, start);
    } catch (e) {
        if (e instanceof NoValue) throw new JsonSyntaxError("Expecting value", text, e.pos);
        throw e;
    }
    end = skip(text, end);
    if (end !== text.length) throw new JsonSyntaxError("Extra data", text, end);
    return value;
}

const TOKENS = /"[^"\\]*(?:\\[\s\S][^"\\]*)*"?|[[\]{}]/g;   // as box_json._TOKENS

/** Whether arrays and objects nest deeper than `limit`, counted on the raw text (box_json). */
export function nestingDepthExceeded(text, limit) {
    let depth = 0;
    for (const [c] of text.matchAll(TOKENS)) {
        if (c === "[" || c === "{") {
            if (++depth > limit) return true;
        } else if (c === "]" || c === "}") {
            depth--;
        }
    }
    return false;
}

/** The first key given twice in one object anywhere in `values`, depth first in document order. */
export function repeatedKey(values) {
    const stack = [...values].reverse();
    while (stack.length) {
        const v = stack.pop();
        if (v instanceof JsonObject) {
            if (v.repeated !== null) return v.repeated;
            stack.push(...v.entries().map(([, x]) => x).reverse());
        } else if (Array.isArray(v)) {
            stack.push(...[...v].reverse());
        }
    }
    return null;
}

/** A read value as plain JavaScript data (JsonObject to a plain object, JsonInt to a number). */
export function toPlain(v) {
    if (v instanceof JsonInt) return v.value;
    if (Array.isArray(v)) return v.map(toPlain);
    if (v instanceof JsonObject) {
        const out = {};
        for (const [k, x] of v.entries())   // defineProperty: a "__proto__" key stays a plain key
            Object.defineProperty(out, k, { value: toPlain(x), enumerable: true, writable: true, configurable: true });
        return out;
    }
    return v;
}

// --- Python's text forms ------------------------------------------------------------------------

const hex = (n, width) => n.toString(16).padStart(width, "0");

// Python's str.isspace(); trim() also strips U+FEFF and keeps U+001C..U+001F and U+0085.
const PY_SPACE = "\t\n\x0b\x0c\r\x1c\x1d\x1e\x1f \x85\xa0\u1680\u2000\u2001\u2002\u2003\u2004\u2005\u2006\u2007" +
    "\u2008\u2009\u200a\u2028\u2029\u202f\u205f\u3000";
const STRIP = new RegExp(`^[${PY_SPACE}]+|[${PY_SPACE}]+$`, "g");

/** Python's str.strip(). */
export const strip = (s) => s.replace(STRIP, "");

// Python's str.isprintable() is false for these categories (the Unicode tables of the browser and of
// Python may differ for code points assigned in recent Unicode versions).
const UNPRINTABLE = /^[\p{Cc}\p{Cf}\p{Cs}\p{Co}\p{Cn}\p{Zl}\p{Zp}\p{Zs}]$/u;

/** Python's repr() of a str. */
export function repr(s) {
    const quote = s.includes("'") && !s.includes('"') ? '"' : "'";
    let out = quote;
    for (const ch of s) {               // by code point; a lone surrogate is one
        const c = ch.codePointAt(0);
        if (ch === quote || ch === "\\") out += "\\" + ch;
        else if (ch === "\t") out += "\\t";
        else if (ch === "\n") out += "\\n";
        else if (ch === "\r") out += "\\r";
        else if (c < 0x20 || c === 0x7f) out += "\\x" + hex(c, 2);
        else if (c < 0x7f || !UNPRINTABLE.test(ch)) out += ch;
        else if (c <= 0xff) out += "\\x" + hex(c, 2);
        else if (c <= 0xffff) out += "\\u" + hex(c, 4);
        else out += "\\U" + hex(c, 8);
    }
    return out + quote;
}

/** Python's repr() of a value given to parse_boxes from JavaScript (the canvas size). */
export function reprValue(v) {
    if (v === null || v === undefined) return "None";
    if (typeof v === "boolean") return v ? "True" : "False";
    if (typeof v === "string") return repr(v);
    if (typeof v === "number") return Number.isInteger(v) ? String(v + 0) : floatRepr(v);
    return String(v);
}

function shortestDigits(x) {            // x > 0 finite: the shortest digits that read back as x
    const [mantissa, e] = String(x).split("e");
    const [ip, fp = ""] = mantissa.split(".");
    let digits = ip + fp, exp = Number(e || 0) + ip.length - 1;
    const lead = digits.match(/^0*/)[0].length;
    digits = digits.slice(lead).replace(/0+$/, "");
    return { digits, exp: exp - lead };
}

const exponent = (exp) => (exp < 0 ? "-" : "+") + String(Math.abs(exp)).padStart(2, "0");

/** Python's repr() of a float. */
export function floatRepr(x) {
    if (Number.isNaN(x)) return "nan";
    if (!Number.isFinite(x)) return x > 0 ? "inf" : "-inf";
    if (x === 0) return Object.is(x, -0) ? "-0.0" : "0.0";
    const sign = x < 0 ? "-" : "";
    const { digits, exp } = shortestDigits(Math.abs(x));
    if (exp < -4 || exp >= 16)
        return sign + digits[0] + (digits.length > 1 ? "." + digits.slice(1) : "") + "e" + exponent(exp);
    if (exp < 0) return sign + "0." + "0".repeat(-exp - 1) + digits;
    const ip = digits.slice(0, exp + 1).padEnd(exp + 1, "0");
    return sign + ip + "." + (digits.slice(exp + 1) || "0");
}

function exactDigits(x) {               // x > 0 finite: every decimal digit of the double
    const view = new DataView(new ArrayBuffer(8));
    view.setFloat64(0, x);
    const hi = view.getUint32(0), lo = view.getUint32(4), biased = (hi >>> 20) & 0x7ff;
    let mantissa = (BigInt(hi & 0xfffff) << 32n) | BigInt(lo), e2 = -1074;
    if (biased) {
        mantissa |= 1n << 52n;
        e2 = biased - 1075;
    }
    const n = e2 >= 0 ? mantissa << BigInt(e2) : mantissa * 5n ** BigInt(-e2);
    const digits = n.toString();
    return { digits, exp: digits.length - 1 + Math.min(e2, 0) };
}

function roundDigits({ digits, exp }, precision) {   // correctly rounded, ties to even, as Python
    if (digits.length <= precision) return { digits: digits.padEnd(precision, "0"), exp };
    let keep = digits.slice(0, precision);
    const rest = digits.slice(precision);
    const up = rest[0] > "5" || (rest[0] === "5" && (/[1-9]/.test(rest.slice(1)) || Number(keep.at(-1)) % 2 === 1));
    if (up) {
        keep = (BigInt(keep) + 1n).toString();
        if (keep.length > precision) {
            keep = keep.slice(0, precision);
            exp += 1;
        }
    }
    return { digits: keep, exp };
}

/** Python's format(x, "g"): six significant digits, trailing zeros removed. */
export function formatG(x, precision = 6) {
    if (Number.isNaN(x)) return "nan";
    if (!Number.isFinite(x)) return x > 0 ? "inf" : "-inf";
    const sign = x < 0 || Object.is(x, -0) ? "-" : "";
    if (x === 0) return sign + "0";
    const { digits, exp } = roundDigits(exactDigits(Math.abs(x)), precision);
    if (exp < -4 || exp >= precision) {
        const frac = digits.slice(1).replace(/0+$/, "");
        return sign + digits[0] + (frac ? "." + frac : "") + "e" + exponent(exp);
    }
    const ip = exp >= 0 ? digits.slice(0, exp + 1) : "0";
    const frac = (exp >= 0 ? digits.slice(exp + 1) : "0".repeat(-exp - 1) + digits).replace(/0+$/, "");
    return sign + ip + (frac ? "." + frac : "");
}

function dumpString(s) {                // ensure_ascii: everything outside ' '..'~' escaped
    let out = '"';
    for (let i = 0; i < s.length; i++) {
        const ch = s[i], c = s.charCodeAt(i);
        if (ch === '"' || ch === "\\") out += "\\" + ch;
        else if (ch === "\n") out += "\\n";
        else if (ch === "\r") out += "\\r";
        else if (ch === "\t") out += "\\t";
        else if (ch === "\b") out += "\\b";
        else if (ch === "\f") out += "\\f";
        else if (c < 0x20 || c > 0x7e) out += "\\u" + hex(c, 4);   // UTF-16 units: Python writes pairs too
        else out += ch;
    }
    return out + '"';
}

/** Python's json.dumps(v) of a value read by loads(). */
export function dumps(v) {
    if (v === null || v === undefined) return "null";
    if (v === true) return "true";
    if (v === false) return "false";
    if (v instanceof JsonInt) return v.text;
    if (typeof v === "number") {
        if (Number.isNaN(v)) return "NaN";
        if (!Number.isFinite(v)) return v > 0 ? "Infinity" : "-Infinity";
        return floatRepr(v);
    }
    if (typeof v === "string") return dumpString(v);
    if (Array.isArray(v)) return "[" + v.map(dumps).join(", ") + "]";
    if (v instanceof JsonObject) return "{" + v.entries().map(([k, x]) => `${dumpString(k)}: ${dumps(x)}`).join(", ") + "}";
    throw new TypeError(`not a JSON value: ${v}`);
}

/** Python's order of str (by code point; JavaScript's default sort compares UTF-16 units). */
export function compareStr(a, b) {
    const x = [...a], y = [...b];
    for (let i = 0; i < Math.min(x.length, y.length); i++) {
        const d = x[i].codePointAt(0) - y[i].codePointAt(0);
        if (d) return d;
    }
    return x.length - y.length;
}
