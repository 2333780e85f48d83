import { httpHandler } from '../shared/http-handler.js';
import { AskRequest, ask } from './ask.js';

export const handler = httpHandler(AskRequest, (body, _event, deps) => ask(body, deps));
