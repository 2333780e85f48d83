/**
 * Node 20 support for the local runtime, imported once, first, by it and by the test setup (README, "Node.js
 * versions"). aws-local-stepfunctions calls Promise.withResolvers, which Node 22 has and Node 20 lacks.
 */
type WithResolvers = <T>() => { promise: Promise<T>; resolve: (value: T) => void; reject: (reason?: unknown) => void };

const P = Promise as unknown as { withResolvers?: WithResolvers };
if (typeof P.withResolvers !== 'function') {
  P.withResolvers = <T>() => {
    let resolve!: (value: T) => void;
    let reject!: (reason?: unknown) => void;
    const promise = new Promise<T>((res, rej) => {
      resolve = res;
      reject = rej;
    });
    return { promise, resolve, reject };
  };
}

// The AWS SDK (v3, @aws-sdk/core) warns once per process on Node < 22 that releases after January 2027 will
// need Node 22: nine lines on every `npm start`. Lambda runs nodejs22.x, where it never warns; on the Node 20
// development machines the pinned SDK works, and the decision to move is recorded in the README. This is the
// variable the installed SDK reads (emitWarningIfUnsupportedVersion); an explicit setting wins.
process.env.AWS_SDK_JS_NODE_VERSION_SUPPORT_WARNING_DISABLED ??= 'true';

export {};
