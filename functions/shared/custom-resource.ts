import type { CloudFormationCustomResourceEvent } from 'aws-lambda';

export interface CustomResourceResponse {
  Status: 'SUCCESS' | 'FAILED';
  Reason?: string;
  PhysicalResourceId: string;
  StackId: string;
  RequestId: string;
  LogicalResourceId: string;
  Data?: Record<string, string>;
}

export type Respond = (url: string, body: CustomResourceResponse) => Promise<void>;

/** Whether a Lambda event is a CloudFormation custom resource request. */
export function isCustomResourceEvent(event: unknown): event is CloudFormationCustomResourceEvent {
  return typeof event === 'object' && event !== null && 'RequestType' in event && 'ResponseURL' in event;
}

/**
 * Runs a deploy-time task for a custom resource on Create and Update (Delete succeeds without it) and always
 * answers CloudFormation, with FAILED and the reason on error, so a deploy never hangs.
 */
export async function runCustomResource(
  event: CloudFormationCustomResourceEvent,
  physicalResourceId: string,
  work: () => Promise<Record<string, string>>,
  respond: Respond,
): Promise<CustomResourceResponse> {
  const base = {
    PhysicalResourceId: physicalResourceId,
    StackId: event.StackId,
    RequestId: event.RequestId,
    LogicalResourceId: event.LogicalResourceId,
  };
  let response: CustomResourceResponse;
  if (event.RequestType === 'Delete') {
    response = { ...base, Status: 'SUCCESS' };
  } else {
    try {
      response = { ...base, Status: 'SUCCESS', Data: await work() };
    } catch (err) {
      response = {
        ...base,
        Status: 'FAILED',
        Reason: err instanceof Error ? `${err.name}: ${err.message}` : String(err),
      };
    }
  }
  await respond(event.ResponseURL, response);
  return response;
}

/** PUTs the custom resource's answer to CloudFormation's pre-signed URL. */
export async function respondToCloudFormation(url: string, body: CustomResourceResponse): Promise<void> {
  const payload = JSON.stringify(body);
  const res = await fetch(url, { method: 'PUT', body: payload, headers: { 'content-type': '' } });
  if (!res.ok) throw new Error(`CloudFormation response upload failed with HTTP ${res.status}`);
}
