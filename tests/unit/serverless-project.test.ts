import { existsSync, readdirSync, readFileSync } from 'node:fs';
import { mkdir, mkdtemp, rm, writeFile } from 'node:fs/promises';
import { tmpdir } from 'node:os';
import { join } from 'node:path';
import { parse } from 'yaml';
import { loadServerlessProject, type ServerlessProject } from '../../local/serverless-project.js';

const root = process.cwd();
const project: ServerlessProject = loadServerlessProject(root);

/** functions/rag/answer-question/ask.handler.handler → [functions/rag/answer-question/ask.handler.ts, handler] */
function handlerFile(handler: string): { file: string; exportName: string } {
  const dot = handler.lastIndexOf('.');
  return { file: join(root, `${handler.slice(0, dot)}.ts`), exportName: handler.slice(dot + 1) };
}

describe('loadServerlessProject on this project', () => {
  it('names the service', () => {
    expect(project.service).toBe('composable-ai');
    expect(project.root).toBe(root);
  });

  it('points every function at a handler file under functions/ that exports `handler`', async () => {
    expect(project.functions.size).toBeGreaterThan(0);
    for (const fn of project.functions.values()) {
      const { file, exportName } = handlerFile(fn.handler);
      expect(fn.handler).toMatch(/^functions\/.+\.handler\.handler$/);
      expect(existsSync(file)).toBe(true);
      expect(exportName).toBe('handler');

      const mod = (await import(file)) as Record<string, unknown>;

      expect(typeof mod[exportName]).toBe('function');
    }
  });

  it('gives functions the provider timeout unless they set their own', () => {
    expect(project.functions.get('loadDocument')?.timeoutSeconds).toBe(60);
    expect(project.functions.get('chunkDocument')?.timeoutSeconds).toBe(300);
  });

  it('names each state machine after its ASL file and loads that file as the definition', () => {
    const files = readdirSync(join(root, 'statemachines'))
      .filter((f) => f.endsWith('.asl.yaml'))
      .map((f) => f.replace(/\.asl\.yaml$/, ''))
      .sort();

    expect([...project.stateMachines.keys()].sort()).toEqual(files);
    for (const [id, machine] of project.stateMachines) {
      expect(machine.id).toBe(id);
      const asl = parse(readFileSync(join(root, 'statemachines', `${machine.id}.asl.yaml`), 'utf8')) as {
        StartAt: string;
        States: Record<string, unknown>;
      };
      expect(machine.definition.StartAt).toBe(asl.StartAt);
      expect(Object.keys(machine.definition.States as object)).toEqual(Object.keys(asl.States));
    }
  });

  it('reads the machine types', () => {
    expect(project.stateMachines.get('ingest-and-index')?.type).toBe('STANDARD');
    expect(project.stateMachines.get('answer-question')?.type).toBe('EXPRESS');
  });

  it('resolves the Ref in the ingest-and-index rule to the bucket logical id, on the default bus', () => {
    const rules = project.stateMachines.get('ingest-and-index')?.rules;

    expect(rules).toEqual([
      {
        eventBusName: 'default',
        pattern: {
          source: ['aws.s3'],
          'detail-type': ['Object Created', 'Object Deleted'],
          detail: { bucket: { name: ['DocumentsBucket'] } },
        },
      },
    ]);
  });

  it('collects the HTTP API routes, including POST /v1/ask on the ask function', () => {
    const routes = [...project.functions.values()].flatMap((fn) =>
      fn.httpRoutes.map((r) => `${r.method} ${r.path} → ${fn.key}`),
    );

    expect(routes).toContain('POST /v1/ask → ask');
  });

  it('resolves the self:service and sls:stage variables for the local stage', () => {
    expect(project.stateMachines.get('answer-question')?.name).toBe('composable-ai-local-answer-question');
    expect(project.stateMachines.get('ingest-and-index')?.name).toBe('composable-ai-local-ingest-and-index');
  });

  it('resolves params and Refs in the environment, and merges provider and function environments', () => {
    const ask = project.functions.get('ask');

    expect(ask?.environment).toMatchObject({
      EMBEDDING_DIMENSIONS: '1024',
      DOCUMENTS_BUCKET: 'DocumentsBucket',
      EVENT_BUS_NAME: 'AppEventBus',
      POWERTOOLS_SERVICE_NAME: 'composable-ai',
    });
    expect(ask?.environment).toHaveProperty('ANSWER_QUESTION_STATE_MACHINE_ARN');
    expect(project.functions.get('loadDocument')?.environment).not.toHaveProperty('ANSWER_QUESTION_STATE_MACHINE_ARN');
  });

  it('merges the resources of every included file', () => {
    expect(project.resources.DocumentsBucket?.Type).toBe('AWS::S3::Bucket');
    expect(project.resources.AppEventBus?.Type).toBe('AWS::Events::EventBus');
  });
});

describe('loadServerlessProject on a small project', () => {
  let dir: string;
  beforeEach(async () => {
    dir = await mkdtemp(join(tmpdir(), 'serverless-project-test-'));
    await mkdir(join(dir, 'statemachines'));
    await writeFile(
      join(dir, 'statemachines', 'say-hello.asl.yaml'),
      'StartAt: SayHello\nStates:\n  SayHello:\n    Type: Pass\n    End: true\n',
    );
  });
  afterEach(() => rm(dir, { recursive: true, force: true }));

  async function load(yaml: string): Promise<ServerlessProject> {
    await writeFile(join(dir, 'serverless.yml'), yaml);
    return loadServerlessProject(dir);
  }

  it('resolves fallbacks, self paths, params, account and region, and keeps unknown variables', async () => {
    const loaded = await load(`
service: demo
params:
  default:
    size: "256"
custom:
  prefix: \${self:service}-\${sls:stage}
provider:
  name: aws
  stage: \${opt:stage, 'dev'}
  environment:
    PREFIX: \${self:custom.prefix}
    SIZE: \${param:size}
    UNSET: \${env:COMPOSABLE_AI_TEST_SURELY_UNSET, 'fallback'}
    WHERE: \${aws:accountId}/\${aws:region}
    SUB: arn:\${AWS::Partition}:states
functions:
  hello:
    handler: functions/hello.handler.handler
    timeout: 5
    events:
      - httpApi: { method: get, path: /hello }
stepFunctions:
  stateMachines:
    sayHello:
      name: \${self:custom.prefix}-say-hello
      definition: \${file(statemachines/say-hello.asl.yaml)}
`);

    expect(loaded.functions.get('hello')).toEqual({
      key: 'hello',
      handler: 'functions/hello.handler.handler',
      timeoutSeconds: 5,
      environment: {
        PREFIX: 'demo-local',
        SIZE: '256',
        UNSET: 'fallback',
        WHERE: '123456789012/us-east-1',
        // biome-ignore lint/suspicious/noTemplateCurlyInString: a CloudFormation Fn::Sub placeholder, kept verbatim
        SUB: 'arn:${AWS::Partition}:states',
      },
      httpRoutes: [{ method: 'GET', path: '/hello' }],
    });
    expect(loaded.stateMachines.get('say-hello')).toMatchObject({
      id: 'say-hello',
      key: 'sayHello',
      name: 'demo-local-say-hello',
      type: 'STANDARD',
      rules: [],
      definition: { StartAt: 'SayHello' },
    });
  });

  it('refuses a state machine whose definition is not loaded from an ASL file', async () => {
    const yaml = `
service: demo
provider: { name: aws }
stepFunctions:
  stateMachines:
    inline:
      definition:
        StartAt: A
        States: { A: { Type: Pass, End: true } }
`;

    await expect(load(yaml)).rejects.toThrow(/inline must load its definition/);
  });
});
