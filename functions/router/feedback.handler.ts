import { identityFromEvent } from '../auth/authorizer.js';
import { httpHandler } from '../shared/http-handler.js';
import { FeedbackRequest, submitFeedback } from './feedback.js';

export const handler = httpHandler(FeedbackRequest, (body, event, deps) =>
  submitFeedback(body, identityFromEvent(event), deps),
);
