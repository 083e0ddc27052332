import { crc32 } from "node:zlib";

// The journal's line format, apart from the schemas so the schema-free `stats` reads it too:
// `<crc32 of the JSON, 8 hex digits> <JSON>\n`.

export function crcHex(data: Uint8Array): string {
  return crc32(data).toString(16).padStart(8, "0");
}

/** The JSON of a record line (without its newline), or null when its checksum fails. */
export function checkedJson(line: Buffer): Buffer | null {
  if (line.length < 9 || line[8] !== 0x20) return null;
  const json = line.subarray(9);
  return crcHex(json) === line.subarray(0, 8).toString("latin1") ? json : null;
}
