import { identityFromEvent } from '../../auth/authorizer.js';
import { httpHandler } from '../../shared/http-handler.js';
import { SearchRequest, search } from './search.js';

export const handler = httpHandler(SearchRequest, (body, event, deps) => search(body, identityFromEvent(event), deps));
