/**
 * Named errors: the contract between task handlers and the state machines.
 * Step Functions matches `ErrorEquals` against `name` verbatim, so renaming one is a breaking change.
 * Every class here is listed in ERROR_NAMES, which the offline ASL checks compare against.
 */

abstract class NamedError extends Error {
  abstract override readonly name: string;
  /** Whether a retry with backoff may succeed (the state machines retry only these). */
  readonly transient: boolean = false;
}

/** A task or HTTP input did not match its schema. */
export class InputValidationError extends NamedError {
  override readonly name = 'InputValidationError';
}

/** A required setting is missing or malformed; raised once at cold start. */
export class ConfigurationError extends NamedError {
  override readonly name = 'ConfigurationError';
}

// ---- documents -------------------------------------------------------------------------------

/** The object to ingest no longer exists (deleted, or replaced, before the step ran). */
export class DocumentNotFoundError extends NamedError {
  override readonly name = 'DocumentNotFoundError';
}

/** The document is larger than MAX_DOCUMENT_BYTES. */
export class DocumentTooLargeError extends NamedError {
  override readonly name = 'DocumentTooLargeError';
}

/** The document has no text to index. */
export class EmptyDocumentError extends NamedError {
  override readonly name = 'EmptyDocumentError';
}

/** The document's content type is not one of the supported text types. */
export class UnsupportedContentTypeError extends NamedError {
  override readonly name = 'UnsupportedContentTypeError';
}

/** The document's bytes are not valid UTF-8 text (binary data or another encoding). */
export class InvalidEncodingError extends NamedError {
  override readonly name = 'InvalidEncodingError';
}

/** The PDF is encrypted with a password we do not have: its text cannot be read. */
export class EncryptedDocumentError extends NamedError {
  override readonly name = 'EncryptedDocumentError';
}

/** The PDF has pages but no text layer (scanned or image-only); text recognition (OCR) is not done here. */
export class ImageOnlyDocumentError extends NamedError {
  override readonly name = 'ImageOnlyDocumentError';
}

/** The bytes claim a format (a PDF) but are not a readable file of it (truncated or corrupt). */
export class MalformedDocumentError extends NamedError {
  override readonly name = 'MalformedDocumentError';
}

/** A newer upload or a deletion of the same key arrived while this version was being indexed. */
export class DocumentSupersededError extends NamedError {
  override readonly name = 'DocumentSupersededError';
}

/** A version was about to be published with chunks missing: publishing it would lose content. */
export class IncompleteVersionError extends NamedError {
  override readonly name = 'IncompleteVersionError';
}

// ---- models ----------------------------------------------------------------------------------

/** The model provider throttled the call (Bedrock ThrottlingException / ServiceQuotaExceeded). */
export class ModelThrottledError extends NamedError {
  override readonly name = 'ModelThrottledError';
  override readonly transient = true;
}

/** The model did not answer in time (Bedrock ModelTimeoutException) or is not ready. */
export class ModelTimeoutError extends NamedError {
  override readonly name = 'ModelTimeoutError';
  override readonly transient = true;
}

/** The request does not fit the model's context window. */
export class ModelContextWindowError extends NamedError {
  override readonly name = 'ModelContextWindowError';
}

/** Any other failure of the model provider (access denied, bad request, model error). */
export class ModelInvocationError extends NamedError {
  override readonly name = 'ModelInvocationError';
}

// ---- index -----------------------------------------------------------------------------------

/** The index is not reachable right now (Aurora resuming from auto-pause, connection limits; OpenSearch 5xx). */
export class IndexUnavailableError extends NamedError {
  override readonly name = 'IndexUnavailableError';
  override readonly transient = true;
}

/** The search engine (OpenSearch Serverless) throttled the request (HTTP 429): retry with backoff. */
export class IndexThrottledError extends NamedError {
  override readonly name = 'IndexThrottledError';
  override readonly transient = true;
}

/** The search engine refused the request as malformed or not allowed (a 4xx other than 429): a bug or a policy gap. */
export class IndexRequestError extends NamedError {
  override readonly name = 'IndexRequestError';
}

/** The building index generation cannot go live yet: some live documents have no complete chunks in it. */
export class GenerationIncompleteError extends NamedError {
  override readonly name = 'GenerationIncompleteError';
}

/** A query vector was made by another model than the live index generation's (the generation switched meanwhile). */
export class EmbeddingModelChangedError extends NamedError {
  override readonly name = 'EmbeddingModelChangedError';
}

// ---- routing ---------------------------------------------------------------------------------

/** The prompt (plus the requested output) does not fit the context window of any catalog model. */
export class PromptTooLargeError extends NamedError {
  override readonly name = 'PromptTooLargeError';
}

/** The tenant's daily budget is spent and its policy is to refuse (HTTP 429). */
export class BudgetExceededError extends NamedError {
  override readonly name = 'BudgetExceededError';
}

/** Every tier failed (throttled, timed out or errored); the cause says why (HTTP 503). */
export class AllTiersFailedError extends NamedError {
  override readonly name = 'AllTiersFailedError';
}

// ---- prompts ---------------------------------------------------------------------------------

/** No prompt with that id exists in the registry. */
export class PromptNotFoundError extends NamedError {
  override readonly name = 'PromptNotFoundError';
}

/** A prompt was rendered without a value for one of its variables. */
export class PromptVariableMissingError extends NamedError {
  override readonly name = 'PromptVariableMissingError';
}

// ---- auth ------------------------------------------------------------------------------------

/** The request carries no valid bearer token (missing, malformed, badly signed, expired, wrong audience/issuer). */
export class UnauthorizedError extends NamedError {
  override readonly name = 'UnauthorizedError';
}

/** The caller's token is valid but names another tenant than the one the request asks for (HTTP 403). */
export class TenantMismatchError extends NamedError {
  override readonly name = 'TenantMismatchError';
}

// ---- memory ----------------------------------------------------------------------------------

/** The caller has no stored fact with that attribute (HTTP 404). */
export class FactNotFoundError extends NamedError {
  override readonly name = 'FactNotFoundError';
}

/** Concurrent writers kept changing one fact through every conditional-write attempt; rerunning the step is safe. */
export class FactConflictError extends NamedError {
  override readonly name = 'FactConflictError';
  override readonly transient = true;
}

// ---- edge ------------------------------------------------------------------------------------

/** An answer needs more than MAX_ANSWER_PARTS values: generate a shorter one or serve it from the origin. */
export class AnswerTooLargeError extends NamedError {
  override readonly name = 'AnswerTooLargeError';
}

/** Another writer changed the store since its ETag was read (KVS ConflictException), after the bounded retries. */
export class EdgeStoreConflictError extends NamedError {
  override readonly name = 'EdgeStoreConflictError';
  override readonly transient = true;
}

/** The write does not fit even after evicting every evictable answer (KVS ServiceQuotaExceededException). */
export class EdgeStoreFullError extends NamedError {
  override readonly name = 'EdgeStoreFullError';
}

/** GET /precomputed/{actionId} names no action of config/edge-actions.yaml (HTTP 404). */
export class ActionNotFoundError extends NamedError {
  override readonly name = 'ActionNotFoundError';
}

/** The action needs app state the user does not have, e.g. an urgent-ticket reply without an urgent ticket (HTTP 404). */
export class ActionNotApplicableError extends NamedError {
  override readonly name = 'ActionNotApplicableError';
}

// ---- routing feedback ------------------------------------------------------------------------

/** POST /v1/feedback names no routed request of the caller's (unknown, expired, or another user's) (HTTP 404). */
export class RequestNotFoundError extends NamedError {
  override readonly name = 'RequestNotFoundError';
}

// ---- HTTP requests ---------------------------------------------------------------------------

/** The request body is larger than the HTTP API accepts (HTTP 413). */
export class PayloadTooLargeError extends NamedError {
  override readonly name = 'PayloadTooLargeError';
}

/** The request body is not JSON (content-type other than application/json or application/*+json) (HTTP 415). */
export class UnsupportedMediaTypeError extends NamedError {
  override readonly name = 'UnsupportedMediaTypeError';
}

export const ERROR_CLASSES = [
  InputValidationError,
  ConfigurationError,
  DocumentNotFoundError,
  DocumentTooLargeError,
  EmptyDocumentError,
  UnsupportedContentTypeError,
  InvalidEncodingError,
  EncryptedDocumentError,
  ImageOnlyDocumentError,
  MalformedDocumentError,
  DocumentSupersededError,
  IncompleteVersionError,
  ModelThrottledError,
  ModelTimeoutError,
  ModelContextWindowError,
  ModelInvocationError,
  IndexUnavailableError,
  IndexThrottledError,
  IndexRequestError,
  GenerationIncompleteError,
  EmbeddingModelChangedError,
  PromptNotFoundError,
  PromptVariableMissingError,
  PromptTooLargeError,
  BudgetExceededError,
  AllTiersFailedError,
  UnauthorizedError,
  TenantMismatchError,
  FactConflictError,
  AnswerTooLargeError,
  EdgeStoreConflictError,
  EdgeStoreFullError,
  ActionNotFoundError,
  ActionNotApplicableError,
  FactNotFoundError,
  RequestNotFoundError,
  PayloadTooLargeError,
  UnsupportedMediaTypeError,
] as const;

export type ErrorName = InstanceType<(typeof ERROR_CLASSES)[number]>['name'];

/** Every name a state machine may route on, besides the States.* and Lambda.* built-ins. */
export const ERROR_NAMES: readonly string[] = ERROR_CLASSES.map((C) => new C('').name);

/** True when an error is one of ours and worth retrying. */
export function isTransient(err: unknown): boolean {
  return err instanceof NamedError && err.transient;
}

export { NamedError };
