// Types of scripts/gen-shared.mjs for the TypeScript tests that import it.
export declare const HEADER: string;
export declare const OUTPUT: string;
export declare function evalExpr(expr: string, known: Map<string, number>): number | undefined;
export interface ParsedHeader {
  defines: Array<[string, number]>;
  enums: Array<{ name: string; members: Array<[string, number]> }>;
}
export declare function parseHeader(text: string): ParsedHeader;
export declare function render(parsed: ParsedHeader, source?: string): string;
export declare function generate(headerText: string): string;
