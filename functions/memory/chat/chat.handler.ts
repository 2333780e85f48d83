import { identityFromEvent } from '../../auth/authorizer.js';
import { httpHandler } from '../../shared/http-handler.js';
import { ChatRequest, chat, chatSettings } from './chat.js';

const settings = chatSettings();

export const handler = httpHandler(ChatRequest, (body, event, deps) =>
  chat(body, identityFromEvent(event), { ...deps, settings }),
);
