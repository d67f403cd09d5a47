import { Document, type Scalar, type ScalarTag, isScalar, visit } from "yaml";

/**
 * A number that must be written as a float (`1.0`, `0.0001`, never `1` or `1e-4`). The readers of
 * rendered files are Python's PyYAML (YAML 1.1), which reads `1e-4` as a string and `1` as an int.
 */
export class YamlFloat {
    constructor(readonly value: number) {}
}

export function yamlFloat(value: number): YamlFloat {
    return new YamlFloat(value);
}

/** Decimal notation with at least one fraction digit, without exponent: 1 → "1.0", 1e-7 → "0.0000001". */
export function formatDecimal(value: number): string {
    if (!Number.isFinite(value)) throw new RangeError(`cannot write ${value} as a YAML float`);
    const text = String(value);
    const exp = /^(-?)(\d)(?:\.(\d+))?e([+-]\d+)$/.exec(text);
    if (exp) {
        const [, sign = "", lead = "", fraction = "", power = "0"] = exp;
        const digits = lead + fraction;
        const point = 1 + Number(power);
        const decimal =
            point <= 0
                ? `0.${"0".repeat(-point)}${digits}`
                : point >= digits.length
                  ? `${digits}${"0".repeat(point - digits.length)}.0`
                  : `${digits.slice(0, point)}.${digits.slice(point)}`;
        return sign + decimal;
    }
    return text.includes(".") ? text : `${text}.0`;
}

const floatTag: ScalarTag = {
    identify: (value) => value instanceof YamlFloat,
    default: true,
    tag: "tag:yaml.org,2002:float",
    resolve: (text) => Number.parseFloat(text),
    stringify: (item) => formatDecimal((item as Scalar<YamlFloat>).value.value),
};

export interface ToYamlOptions {
    /** Comment lines written above the document (without the leading `#`). */
    header?: readonly string[];
}

/**
 * Serialises a plain object as YAML 1.1-safe text: insertion order is kept (callers build objects
 * in a fixed order, so output is deterministic), strings such as `no`, `on` or `1e-4` are quoted
 * so PyYAML reads them back as strings, {@link YamlFloat} values keep a fraction digit, and lists
 * of plain values are written on one line.
 */
export function toYaml(value: unknown, options: ToYamlOptions = {}): string {
    const document = new Document(value, { version: "1.1", customTags: [floatTag] });
    // Lists of plain values read best on one line: `packages: [python3-venv]`, `- [systemctl, daemon-reload]`.
    visit(document, {
        Seq(_, node) {
            if (node.items.every((item) => isScalar(item) && !String(item.value).includes("\n"))) node.flow = true;
        },
    });
    if (options.header && options.header.length > 0) {
        document.commentBefore = options.header.map((line) => (line === "" ? "" : ` ${line}`)).join("\n");
    }
    return document.toString({ lineWidth: 0, flowCollectionPadding: false });
}
