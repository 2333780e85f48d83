import { createUseLiteEmbedder } from '../../functions/shared/adapters/use-lite-embedder.js';

// The project's TypeScript libraries do not declare WebAssembly; Node.js has it.
interface WebAssemblyApi {
  instantiate: (...args: unknown[]) => Promise<unknown>;
}
const wasm = (globalThis as unknown as { WebAssembly: WebAssemblyApi }).WebAssembly;

describe('the Universal Sentence Encoder lite embedder on a slow-starting WASM backend', () => {
  const instantiate = wasm.instantiate;
  afterEach(() => {
    wasm.instantiate = instantiate;
  });

  it('waits for the backend before reading the weights, whose tensors need it', async () => {
    // TensorFlow.js starts its WASM backend when it is imported, asynchronously: it compiles the module. On a busy
    // machine the backend was once still starting when the weights had been read, and making their tensors threw
    // "Backend 'wasm' has not yet been initialized". Delaying the compilation makes that order certain. The adapter
    // imports TensorFlow.js on first use, so this embedder's first call is what starts the backend.
    wasm.instantiate = async (...args) => {
      await new Promise((resolve) => setTimeout(resolve, 1000));
      return instantiate(...args);
    };

    const [vector] = await createUseLiteEmbedder().embed(['The Bell Rock Lighthouse stands on a reef.']);

    expect(vector).toHaveLength(512);
  });
});
