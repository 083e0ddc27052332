/**
 * Every base64 form of `secret` that survives inside longer base64 text, one per alignment:
 * what a leak test must look for besides the secret itself.
 */
export function base64Forms(secret: string): string[] {
  return [0, 1, 2].map((offset) => {
    const encoded = Buffer.concat([Buffer.alloc(offset), Buffer.from(secret)]).toString("base64");
    // The leading characters mix in the bytes before it; the last group, the bytes after.
    const skip = [0, 2, 3][offset] as number;
    return encoded.slice(skip, Math.floor((offset + secret.length) / 3) * 4);
  });
}
