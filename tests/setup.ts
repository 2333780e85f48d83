import '../local/polyfills.js';
import 'aws-sdk-client-mock-jest';
