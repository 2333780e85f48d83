import type { Ports } from './ports.js';

export type { Ports, WorkflowResult, WorkflowStarter } from './ports.js';

let installed: Ports | undefined;

/** Installs the ports every handler uses (the local runtime and tests call this). */
export function installPorts(p: Ports): void {
  installed = p;
}

/** The ports of this process: the installed ones, else the AWS adapters (loaded only in Lambda). */
export async function ports(): Promise<Ports> {
  if (!installed) {
    const { createAwsPorts } = await import('./adapters/aws-ports.js');
    installed = createAwsPorts();
  }
  return installed;
}
