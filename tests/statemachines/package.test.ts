import { execFileSync, spawnSync } from 'node:child_process';
import { existsSync, mkdirSync, mkdtempSync, readFileSync, rmSync, statSync, writeFileSync } from 'node:fs';
import { tmpdir } from 'node:os';
import { dirname, join } from 'node:path';
import { inflateRawSync } from 'node:zlib';
import { parse } from 'yaml';
import { loadServerlessProject } from '../../local/serverless-project.js';

// Packages the service once with osls (`sls package`), offline, and checks the CloudFormation template it
// would deploy and the Lambda bundles it would upload.

type Node = Record<string, unknown>;
interface Resource {
  Type: string;
  Properties?: Node;
  DependsOn?: string | string[];
}
interface Statement {
  Effect: string;
  Action: string | string[];
  Resource: unknown;
}

const root = process.cwd();
const project = loadServerlessProject(root);
const functionKeys = [...project.functions.keys()];

const MACHINES = [
  { id: 'ingest-and-index', logicalId: 'IngestAndIndexStateMachine', type: 'STANDARD' },
  { id: 'answer-question', logicalId: 'AnswerQuestionStateMachine', type: 'EXPRESS' },
  { id: 'search', logicalId: 'SearchStateMachine', type: 'EXPRESS' },
  { id: 'extract-memory', logicalId: 'ExtractMemoryStateMachine', type: 'EXPRESS' },
  { id: 'route-with-cascade', logicalId: 'RouteWithCascadeStateMachine', type: 'EXPRESS' },
  { id: 'pregenerate-on-login', logicalId: 'PregenerateOnLoginStateMachine', type: 'EXPRESS' },
  { id: 'invalidate-stale-keys', logicalId: 'InvalidateStaleKeysStateMachine', type: 'STANDARD' },
] as const;

// Actions that read or change data: none may be granted on every resource.
const DATA_PLANE_ACTIONS = [
  's3:GetObject',
  's3:PutObject',
  's3:DeleteObject',
  'rds-data:*',
  'secretsmanager:GetSecretValue',
  'bedrock:InvokeModel',
  'events:PutEvents',
  'states:StartSyncExecution',
  'states:StartExecution',
  'lambda:InvokeFunction',
  'dynamodb:*',
  'cloudfront-keyvaluestore:*',
  'aoss:APIAccessAll',
];

/**
 * The regression limit per function zip (README, "Deploy"). The zips are 1.2–1.5 MB after dropping source maps
 * and tree-shaking ES builds (from 3.1 MB on average); over 2 MB means something large came back (source maps,
 * a CommonJS build of the SDK, a data file).
 */
const MAX_ZIP_BYTES = 2 * 1024 * 1024;
/** Functions that carry a large dependency of their own, with the limit that still catches a regression. */
const ZIP_LIMIT_EXCEPTIONS: Record<string, number> = {
  // LoadDocument and ChunkDocument read PDFs with pdf.js (unpdf's serverless build, ~1 MB zipped)
  chunkDocument: 3 * 1024 * 1024,
  loadDocument: 3 * 1024 * 1024,
};

let packageDir: string;
let resources: Record<string, Resource>;
let outputs: Record<string, { Value: unknown }>;
let conditions: Record<string, unknown>;

/** The CloudFormation logical id the framework gives a function's AWS::Lambda::Function. */
function lambdaLogicalId(functionKey: string): string {
  return `${functionKey.charAt(0).toUpperCase()}${functionKey.slice(1)}LambdaFunction`;
}

function resource(logicalId: string): Resource {
  const found = resources[logicalId];
  if (!found) throw new Error(`the template has no resource ${logicalId}`);
  return found;
}

function propertiesOf(logicalId: string): Node {
  return resource(logicalId).Properties ?? {};
}

function ofType(type: string): [string, Resource][] {
  return Object.entries(resources).filter(([, r]) => r.Type === type);
}

const asArray = <T>(value: T | T[] | undefined): T[] =>
  value === undefined ? [] : Array.isArray(value) ? value : [value];

/** Every logical id a node refers to through Ref, Fn::GetAtt or a Fn::Sub placeholder. */
function referencedIds(node: unknown): Set<string> {
  const ids = new Set<string>();
  const visit = (n: unknown): void => {
    if (Array.isArray(n)) n.forEach(visit);
    if (!n || typeof n !== 'object' || Array.isArray(n)) return;
    for (const [key, value] of Object.entries(n as Node)) {
      if (key === 'Ref' && typeof value === 'string') ids.add(value);
      else if (key === 'Fn::GetAtt') ids.add(String(asArray(value as string | string[])[0]).split('.')[0] as string);
      else if (key === 'Fn::Sub') {
        const [text, variables] = asArray(value as unknown);
        const local = Object.keys((variables ?? {}) as Node); // placeholders the Fn::Sub defines itself
        for (const match of String(text).matchAll(/\$\{([^}!]+)\}/g)) {
          const id = (match[1] as string).split('.')[0] as string;
          if (!local.includes(id)) ids.add(id);
        }
        visit(variables);
      } else visit(value);
    }
  };
  visit(node);
  return ids;
}

/** Whether two IAM action patterns (with `*` wildcards, case-insensitive) can name the same action. */
function actionsOverlap(a: string, b: string): boolean {
  const matches = (pattern: string, action: string) =>
    new RegExp(`^${pattern.replace(/[.+?^${}()|[\]\\]/g, '\\$&').replaceAll('*', '.*')}$`, 'i').test(action);
  return matches(a, b) || matches(b, a);
}

/** The Allow statements of an IAM role's inline policies. */
function allowStatements(role: Resource): Statement[] {
  const policies = (role.Properties?.Policies ?? []) as { PolicyDocument: { Statement: Statement[] } }[];
  return policies.flatMap((p) => p.PolicyDocument.Statement).filter((s) => s.Effect === 'Allow');
}

/** The data-plane actions a statement grants on every resource (`*`). */
function dataPlaneWildcardGrants(statement: Statement): string[] {
  if (!asArray(statement.Resource).includes('*')) return [];
  return asArray(statement.Action).filter((action) => DATA_PLANE_ACTIONS.some((d) => actionsOverlap(action, d)));
}

/** The entries of a zip archive as name → reader (stored or deflated entries; no zip64). */
function zipEntries(file: string): Map<string, () => Buffer> {
  const zip = readFileSync(file);
  const end = zip.lastIndexOf(Buffer.from([0x50, 0x4b, 0x05, 0x06]));
  const count = zip.readUInt16LE(end + 10);
  let at = zip.readUInt32LE(end + 16);
  const entries = new Map<string, () => Buffer>();
  for (let i = 0; i < count; i++) {
    const method = zip.readUInt16LE(at + 10);
    const compressedSize = zip.readUInt32LE(at + 20);
    const nameLength = zip.readUInt16LE(at + 28);
    const localHeader = zip.readUInt32LE(at + 42);
    const name = zip.toString('utf8', at + 46, at + 46 + nameLength);
    const dataStart = localHeader + 30 + zip.readUInt16LE(localHeader + 26) + zip.readUInt16LE(localHeader + 28);
    const data = zip.subarray(dataStart, dataStart + compressedSize);
    entries.set(name, () => (method === 8 ? inflateRawSync(data) : Buffer.from(data)));
    at += 46 + nameLength + zip.readUInt16LE(at + 30) + zip.readUInt16LE(at + 32);
  }
  return entries;
}

/** `functions/rag/answer-question/ask.handler.handler` → `functions/rag/answer-question/ask.handler.mjs`, the ESM bundle Lambda loads. */
function bundlePath(functionKey: string): string {
  const handler = project.functions.get(functionKey)?.handler ?? '';
  return `${handler.slice(0, handler.lastIndexOf('.'))}.mjs`;
}

/** A state machine's definition as deployed, with each `${placeholder}` mapped to what Fn::Sub puts there. */
function deployedDefinition(logicalId: string): { definition: Node; substitutions: Record<string, unknown> } {
  const [text, substitutions] = (propertiesOf(logicalId).DefinitionString as { 'Fn::Sub': [string, Node] })['Fn::Sub'];
  return { definition: JSON.parse(text) as Node, substitutions };
}

/** The Resource of every Task state, nested Map and Parallel states included. */
function taskResources(states: Record<string, Node>): unknown[] {
  return Object.values(states).flatMap((state) => {
    const processor = (state.ItemProcessor ?? state.Iterator) as { States: Record<string, Node> } | undefined;
    const branches = (state.Branches ?? []) as { States: Record<string, Node> }[];
    return [
      ...(state.Type === 'Task' ? [state.Resource] : []),
      ...(processor ? taskResources(processor.States) : []),
      ...branches.flatMap((b) => taskResources(b.States)),
    ];
  });
}

/** The function keys a statemachines/<id>.asl.yaml file names in its `Fn::GetAtt: [<key>, Arn]` tasks. */
function functionsInAslFile(id: string): string[] {
  const definition = project.stateMachines.get(id)?.definition as Node;
  return taskResources(definition.States as Record<string, Node>).map(
    (r) => (r as { 'Fn::GetAtt': [string, string] })['Fn::GetAtt'][0],
  );
}

beforeAll(() => {
  packageDir = mkdtempSync(join(tmpdir(), 'composable-ai-package-'));
  const home = join(packageDir, 'home');
  mkdirSync(home);
  const run = spawnSync(
    join(root, 'node_modules/.bin/sls'),
    ['package', '--stage', 'ci', '--package', join(packageDir, 'out')],
    {
      cwd: root,
      encoding: 'utf8',
      timeout: 900_000,
      // No real credentials or profiles, no instance metadata; any AWS or HTTP call would hit a closed local port.
      env: {
        PATH: process.env.PATH,
        HOME: home,
        AWS_ACCESS_KEY_ID: 'AKIAIOSFODNN7EXAMPLE',
        AWS_SECRET_ACCESS_KEY: 'wJalrXUtnFEMI/K7MDENG/bPxRfiCYEXAMPLEKEY',
        AWS_REGION: 'us-east-1',
        AWS_EC2_METADATA_DISABLED: 'true',
        AWS_ENDPOINT_URL: 'http://127.0.0.1:9',
        HTTP_PROXY: 'http://127.0.0.1:9',
        HTTPS_PROXY: 'http://127.0.0.1:9',
      },
    },
  );
  // osls prints its errors on stdout
  if (run.status !== 0)
    throw new Error(`sls package failed (${run.error?.message ?? run.status}):\n${run.stdout}${run.stderr}`);
  const template = JSON.parse(
    readFileSync(join(packageDir, 'out', 'cloudformation-template-update-stack.json'), 'utf8'),
  ) as {
    Resources: Record<string, Resource>;
    Outputs: Record<string, { Value: unknown }>;
    Conditions: Record<string, unknown>;
  };
  resources = template.Resources;
  conditions = template.Conditions;
  outputs = template.Outputs;
}, 960_000);

afterAll(() => {
  if (packageDir) rmSync(packageDir, { recursive: true, force: true });
});

describe('sls package', () => {
  describe('Lambda functions', () => {
    it('packages each function as its own zip holding its ESM bundle and the prompt registry', () => {
      for (const key of functionKeys) {
        const zip = join(packageDir, 'out', `${key}.zip`);
        expect({ key, zip: existsSync(zip) }).toEqual({ key, zip: true });

        const names = [...zipEntries(zip).keys()];

        expect({ key, bundle: names.includes(bundlePath(key)) }).toEqual({ key, bundle: true });
        expect({ key, prompts: names.some((n) => n.startsWith('prompts/')) }).toEqual({ key, prompts: true });
      }
      expect(functionKeys.length).toBeGreaterThanOrEqual(13);
    });

    it('keeps every zip lean: no source maps, under the regression limit (prints each size)', () => {
      const rows = functionKeys
        .map((key) => {
          const zip = join(packageDir, 'out', `${key}.zip`);
          const entries = zipEntries(zip);
          const bundle = entries.get(bundlePath(key))?.().length ?? 0;
          return { key, zip: statSync(zip).size, bundle, maps: [...entries.keys()].filter((n) => n.endsWith('.map')) };
        })
        .sort((a, b) => b.zip - a.zip);
      const mb = (bytes: number) => (bytes / 1024 / 1024).toFixed(2).padStart(6);
      console.log(
        [
          `function zips (limit ${mb(MAX_ZIP_BYTES)} MB):`,
          `${'function'.padEnd(28)} zip MB  bundle MB`,
          ...rows.map((r) => `${r.key.padEnd(28)} ${mb(r.zip)}  ${mb(r.bundle)}`),
          `${'average'.padEnd(28)} ${mb(rows.reduce((sum, r) => sum + r.zip, 0) / rows.length)}`,
        ].join('\n'),
      );

      expect(rows.filter((r) => r.maps.length > 0).map((r) => ({ key: r.key, maps: r.maps }))).toEqual([]);
      for (const r of rows) {
        // no inline map either (sourceMappingURL=data:…)
        const code = zipEntries(join(packageDir, 'out', `${r.key}.zip`))
          .get(bundlePath(r.key))?.()
          .toString('utf8');
        expect({ key: r.key, inlineMap: code?.includes('sourceMappingURL=data:') }).toEqual({
          key: r.key,
          inlineMap: false,
        });
        expect({ key: r.key, overLimit: r.zip > (ZIP_LIMIT_EXCEPTIONS[r.key] ?? MAX_ZIP_BYTES) }).toEqual({
          key: r.key,
          overLimit: false,
        });
      }
    });

    it('builds bundles that Node loads, each exporting a handler', () => {
      const bundles = join(packageDir, 'bundles');
      const paths = functionKeys.map((key) => {
        const path = join(bundles, key, bundlePath(key));
        const read = zipEntries(join(packageDir, 'out', `${key}.zip`)).get(bundlePath(key));
        mkdirSync(dirname(path), { recursive: true });
        writeFileSync(path, read?.() ?? '');
        return path;
      });
      const loadAll = `
        import { pathToFileURL } from 'node:url';
        for (const path of process.argv.slice(1)) {
          const { handler } = await import(pathToFileURL(path).href);
          if (typeof handler !== 'function') throw new Error(path + ' exports no handler function');
        }
        console.log('loaded ' + (process.argv.length - 1));`;

      const output = execFileSync(process.execPath, ['--input-type=module', '-e', loadAll, ...paths], {
        env: { PATH: process.env.PATH, AWS_REGION: 'us-east-1', AWS_EC2_METADATA_DISABLED: 'true' },
        timeout: 60_000,
      }).toString();

      expect(output.trim()).toBe(`loaded ${functionKeys.length}`);
    });

    it('runs every function on nodejs22.x arm64 with the provider environment', () => {
      const serverlessYml = parse(readFileSync(join(root, 'serverless.yml'), 'utf8')) as { provider: Node };
      const providerVariables = Object.keys(serverlessYml.provider.environment as Node);

      for (const key of functionKeys) {
        const props = resource(lambdaLogicalId(key)).Properties ?? {};
        const variables = (props.Environment as { Variables: Node }).Variables;

        expect({ key, runtime: props.Runtime, arch: props.Architectures }).toEqual({
          key,
          runtime: 'nodejs22.x',
          arch: ['arm64'],
        });
        expect({ key, missing: providerVariables.filter((v) => !(v in variables)) }).toEqual({ key, missing: [] });
        expect(variables.DB_SECRET_ARN).toEqual({ 'Fn::GetAtt': ['DatabaseCluster', 'MasterUserSecret.SecretArn'] });
      }
      expect(providerVariables).toEqual(
        expect.arrayContaining(['DOCUMENTS_BUCKET', 'DB_CLUSTER_ARN', 'EVENT_BUS_NAME']),
      );
    });
  });

  describe.each(MACHINES)('$id state machine', ({ id, logicalId, type }) => {
    it(`is an AWS::StepFunctions::StateMachine of type ${type}`, () => {
      const props = propertiesOf(logicalId);

      expect(resource(logicalId).Type).toBe('AWS::StepFunctions::StateMachine');
      expect(props.StateMachineType).toBe(type);
      expect(props.StateMachineName).toBe(`composable-ai-ci-${id}`);
    });

    it('has a definition whose tasks invoke the ARNs of the functions its ASL file names', () => {
      const { definition, substitutions } = deployedDefinition(logicalId);
      const expected = functionsInAslFile(id).map((key) => ({ 'Fn::GetAtt': [lambdaLogicalId(key), 'Arn'] }));

      const invoked = taskResources(definition.States as Record<string, Node>).map(
        (r) => substitutions[/^\$\{(\w+)\}$/.exec(String(r))?.[1] ?? ''],
      );

      expect(invoked.length).toBeGreaterThan(0);
      expect(invoked).toEqual(expected);
    });

    it('has a role that may invoke exactly the functions of its definition', () => {
      const roleId = [...referencedIds(resource(logicalId).Properties?.RoleArn)][0] as string;
      const grants = allowStatements(resource(roleId)).filter((s) =>
        asArray(s.Action).includes('lambda:InvokeFunction'),
      );

      const granted = new Set(grants.flatMap((s) => [...referencedIds(s.Resource)]));

      expect(resource(roleId).Type).toBe('AWS::IAM::Role');
      expect([...granted].sort()).toEqual([...new Set(functionsInAslFile(id).map(lambdaLogicalId))].sort());
    });
  });

  it('starts ingest-and-index from an EventBridge rule on S3 Object Created / Object Deleted in the documents bucket', () => {
    const rules = ofType('AWS::Events::Rule').filter(([, r]) =>
      asArray(r.Properties?.Targets as { Arn: unknown }[] | undefined).some((t) =>
        referencedIds(t.Arn).has('IngestAndIndexStateMachine'),
      ),
    );

    expect(rules).toHaveLength(1);
    const props = rules[0]?.[1].Properties ?? {};
    expect(props.EventPattern).toEqual({
      source: ['aws.s3'],
      'detail-type': ['Object Created', 'Object Deleted'],
      detail: { bucket: { name: [{ Ref: 'DocumentsBucket' }] } },
    });
    expect(props.EventBusName).toBeUndefined(); // S3 sends its events to the default bus
    const target = (props.Targets as { RoleArn: unknown }[])[0];
    const roleId = [...referencedIds(target?.RoleArn)][0] as string;
    expect(allowStatements(resource(roleId))).toEqual([
      { Effect: 'Allow', Action: ['states:StartExecution'], Resource: { Ref: 'IngestAndIndexStateMachine' } },
    ]);
  });

  it('logs every answer-question execution to its log group, with the log delivery permissions', () => {
    const props = propertiesOf('AnswerQuestionStateMachine');
    const roleId = [...referencedIds(props.RoleArn)][0] as string;

    const actions = allowStatements(resource(roleId)).flatMap((s) => asArray(s.Action));

    expect(props.LoggingConfiguration).toEqual({
      Level: 'ALL',
      IncludeExecutionData: true,
      Destinations: [{ CloudWatchLogsLogGroup: { LogGroupArn: { 'Fn::GetAtt': ['AnswerQuestionLogGroup', 'Arn'] } } }],
    });
    expect(resource('AnswerQuestionLogGroup').Type).toBe('AWS::Logs::LogGroup');
    expect(actions).toEqual(
      expect.arrayContaining(['logs:CreateLogDelivery', 'logs:PutResourcePolicy', 'logs:DescribeLogGroups']),
    );
  });

  it('starts extract-memory from a rule on the app bus: user event detail-types with a userId, any source', () => {
    const rules = ofType('AWS::Events::Rule').filter(([, r]) =>
      asArray(r.Properties?.Targets as { Arn: unknown }[] | undefined).some((t) =>
        referencedIds(t.Arn).has('ExtractMemoryStateMachine'),
      ),
    );

    expect(rules).toHaveLength(1);
    const props = rules[0]?.[1].Properties ?? {};
    expect(props.EventBusName).toEqual({ Ref: 'AppEventBus' });
    expect(props.EventPattern).toEqual({
      'detail-type': ['UserLoggedIn', 'PageViewed', 'SettingsChanged', 'ErrorOccurred', 'ChatMessageSent', 'UserEvent'],
      detail: { userId: [{ exists: true }] },
    });
    const target = (props.Targets as { RoleArn: unknown }[])[0];
    const roleId = [...referencedIds(target?.RoleArn)][0] as string;
    expect(allowStatements(resource(roleId))).toEqual([
      { Effect: 'Allow', Action: ['states:StartExecution'], Resource: { Ref: 'ExtractMemoryStateMachine' } },
    ]);
  });

  it.each([
    {
      machine: 'PregenerateOnLoginStateMachine',
      pattern: { 'detail-type': ['UserLoggedIn', 'EdgeRegenerationRequested'], detail: { userId: [{ exists: true }] } },
    },
    {
      machine: 'InvalidateStaleKeysStateMachine',
      pattern: { 'detail-type': ['DeploymentStatusChanged', 'TicketUpdated', 'FactsChanged'] },
    },
  ])('starts $machine from a rule on the app bus by detail-type, any source', ({ machine, pattern }) => {
    const rules = ofType('AWS::Events::Rule').filter(([, r]) =>
      asArray(r.Properties?.Targets as { Arn: unknown }[] | undefined).some((t) => referencedIds(t.Arn).has(machine)),
    );

    expect(rules).toHaveLength(1);
    expect(rules[0]?.[1].Properties?.EventBusName).toEqual({ Ref: 'AppEventBus' });
    expect(rules[0]?.[1].Properties?.EventPattern).toEqual(pattern);
  });

  it('routes GET /precomputed/{actionId} to the origin function behind the bearer-token authorizer', () => {
    const routes = ofType('AWS::ApiGatewayV2::Route').map(([, r]) => r.Properties ?? {});
    const route = routes.find((r) => r.RouteKey === 'GET /precomputed/{actionId}');

    expect(route).toBeDefined();
    expect(route?.AuthorizationType).toBe('CUSTOM');
  });

  it('logs extract-memory executions to their log group without execution data (chat text and facts are personal data)', () => {
    const props = propertiesOf('ExtractMemoryStateMachine');

    expect(props.LoggingConfiguration).toEqual({
      Level: 'ALL',
      IncludeExecutionData: false,
      Destinations: [{ CloudWatchLogsLogGroup: { LogGroupArn: { 'Fn::GetAtt': ['ExtractMemoryLogGroup', 'Arn'] } } }],
    });
    expect(resource('ExtractMemoryLogGroup').Type).toBe('AWS::Logs::LogGroup');
  });

  it('holds the facts table with its TTL, named to every function, with item-level actions on that table only', () => {
    const table = propertiesOf('FactsTable');
    const lambdaRole = resource('IamRoleLambdaExecution');

    const grants = allowStatements(lambdaRole).filter((s) =>
      asArray(s.Action).some((a) => String(a).startsWith('dynamodb:')),
    );

    expect(table).toMatchObject({
      KeySchema: [
        { AttributeName: 'userId', KeyType: 'HASH' },
        { AttributeName: 'sk', KeyType: 'RANGE' },
      ],
      TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
      BillingMode: 'PAY_PER_REQUEST',
    });
    expect(grants).toContainEqual({
      Effect: 'Allow',
      Action: [
        'dynamodb:GetItem',
        'dynamodb:PutItem',
        'dynamodb:DeleteItem',
        'dynamodb:Query',
        'dynamodb:BatchWriteItem',
      ],
      Resource: { 'Fn::GetAtt': ['FactsTable', 'Arn'] },
    });
    for (const key of functionKeys) {
      const variables = (propertiesOf(lambdaLogicalId(key)).Environment as { Variables: Node }).Variables;
      expect({ key, table: variables.FACTS_TABLE }).toEqual({ key, table: { Ref: 'FactsTable' } });
    }
    expect(
      (propertiesOf('ExtractFactsLambdaFunction').Environment as { Variables: Node }).Variables
        .ROUTE_WITH_CASCADE_STATE_MACHINE_ARN,
    ).toEqual({ 'Fn::GetAtt': ['RouteWithCascadeStateMachine', 'Arn'] });
  });

  it('routes POST /v1/ask to the ask function, which may start answer-question synchronously', () => {
    const [, route] =
      ofType('AWS::ApiGatewayV2::Route').find(([, r]) => r.Properties?.RouteKey === 'POST /v1/ask') ?? [];
    const integrationId = [...referencedIds(route?.Properties?.Target)][0] as string;
    const machineName = resource('AnswerQuestionStateMachine').Properties?.StateMachineName;
    const lambdaRole = resource('IamRoleLambdaExecution');

    const startSync = allowStatements(lambdaRole).filter((s) =>
      asArray(s.Action).includes('states:StartSyncExecution'),
    );

    expect(resource(integrationId).Properties?.IntegrationUri).toEqual({ 'Fn::GetAtt': ['AskLambdaFunction', 'Arn'] });
    expect(
      (propertiesOf('AskLambdaFunction').Environment as { Variables: Node }).Variables
        .ANSWER_QUESTION_STATE_MACHINE_ARN,
    ).toEqual({ 'Fn::GetAtt': ['AnswerQuestionStateMachine', 'Arn'] });
    const routerName = resource('RouteWithCascadeStateMachine').Properties?.StateMachineName;
    const arnOf = (name: unknown) => ({
      'Fn::Sub': `arn:\${AWS::Partition}:states:\${AWS::Region}:\${AWS::AccountId}:stateMachine:${name}`,
    });
    const searchName = resource('SearchStateMachine').Properties?.StateMachineName;
    expect(startSync).toEqual([
      {
        Effect: 'Allow',
        Action: ['states:StartSyncExecution'],
        Resource: [arnOf(machineName), arnOf(searchName), arnOf(routerName)],
      },
    ]);
  });

  it('routes POST /v1/search to the search function, which starts the search machine', () => {
    const [, route] =
      ofType('AWS::ApiGatewayV2::Route').find(([, r]) => r.Properties?.RouteKey === 'POST /v1/search') ?? [];
    const integrationId = [...referencedIds(route?.Properties?.Target)][0] as string;

    expect(resource(integrationId).Properties?.IntegrationUri).toEqual({
      'Fn::GetAtt': ['SearchLambdaFunction', 'Arn'],
    });
    expect(
      (propertiesOf('SearchLambdaFunction').Environment as { Variables: Node }).Variables.SEARCH_STATE_MACHINE_ARN,
    ).toEqual({ 'Fn::GetAtt': ['SearchStateMachine', 'Arn'] });
  });

  it('puts every /v1 route behind the bearer-token authorizer, run on every request (no cached verdict outlives exp)', () => {
    const routes = ofType('AWS::ApiGatewayV2::Route').filter(([, r]) =>
      String(r.Properties?.RouteKey).includes(' /v1/'),
    );
    const [authorizerId, authorizer] = ofType('AWS::ApiGatewayV2::Authorizer')[0] ?? [];

    expect(routes.map(([, r]) => r.Properties?.RouteKey).sort()).toEqual([
      'DELETE /v1/me',
      'DELETE /v1/me/facts/{attribute}',
      'GET /v1/me/facts',
      'GET /v1/usage',
      'POST /v1/ask',
      'POST /v1/chat',
      'POST /v1/feedback',
      'POST /v1/generate',
      'POST /v1/search',
    ]);
    for (const [, route] of routes) {
      expect(route.Properties?.AuthorizationType).toBe('CUSTOM');
      expect(route.Properties?.AuthorizerId).toEqual({ Ref: authorizerId });
    }
    expect(authorizer?.Properties).toMatchObject({
      AuthorizerType: 'REQUEST',
      EnableSimpleResponses: true,
      AuthorizerPayloadFormatVersion: '2.0',
      // no identity source: a request without the header reaches the authorizer, and the route's 401 body
      IdentitySource: [],
      AuthorizerResultTtlInSeconds: 0,
    });
  });

  it('deploys none of the local-only routes (/documents, /events, /executions, /health, /console): they have no token', () => {
    const routeKeys = ofType('AWS::ApiGatewayV2::Route').map(([, r]) => String(r.Properties?.RouteKey));

    expect(routeKeys.length).toBeGreaterThan(0);
    expect(routeKeys.filter((key) => !/^(GET|POST|PUT|DELETE|PATCH) \/(v1|precomputed)\//.test(key))).toEqual([]);
    for (const [, r] of ofType('AWS::ApiGatewayV2::Route')) expect(r.Properties?.AuthorizationType).toBe('CUSTOM');
  });

  it('gives every EventBridge rule target a retry policy and its own encrypted dead-letter queue, with an alarm', () => {
    const rules = ofType('AWS::Events::Rule').filter(([, r]) =>
      asArray(r.Properties?.Targets as { Arn: unknown }[] | undefined).some((t) =>
        [...referencedIds(t.Arn)].some((id) => id.endsWith('StateMachine')),
      ),
    );
    const queues = new Set<string>();

    expect(rules.length).toBeGreaterThanOrEqual(4);
    for (const [ruleId, rule] of rules) {
      for (const target of (rule.Properties?.Targets ?? []) as Array<Record<string, unknown>>) {
        const retry = target.RetryPolicy as { MaximumRetryAttempts?: number; MaximumEventAgeInSeconds?: number };
        expect({ ruleId, retry }).toEqual({
          ruleId,
          retry: { MaximumRetryAttempts: expect.any(Number), MaximumEventAgeInSeconds: expect.any(Number) },
        });
        const queueId = [...referencedIds((target.DeadLetterConfig as { Arn?: unknown } | undefined)?.Arn)][0];
        expect({ ruleId, queue: queueId && resource(queueId).Type }).toEqual({ ruleId, queue: 'AWS::SQS::Queue' });
        const queue = queueId as string;
        expect(queues.has(queue)).toBe(false);
        queues.add(queue);
        expect(propertiesOf(queue).SqsManagedSseEnabled ?? propertiesOf(queue).KmsMasterKeyId).toBeTruthy();
        // only this rule may send to the queue
        const policies = ofType('AWS::SQS::QueuePolicy').filter(([, p]) =>
          referencedIds(p.Properties?.Queues).has(queue),
        );
        expect(policies).toHaveLength(1);
        const statements = (
          (policies[0]?.[1].Properties?.PolicyDocument ?? { Statement: [] }) as {
            Statement: Array<Record<string, unknown>>;
          }
        ).Statement;
        expect(statements).toEqual([
          expect.objectContaining({
            Effect: 'Allow',
            Principal: { Service: 'events.amazonaws.com' },
            Action: 'sqs:SendMessage',
            Condition: { ArnEquals: { 'aws:SourceArn': { 'Fn::GetAtt': [ruleId, 'Arn'] } } },
          }),
        ]);
        const alarms = ofType('AWS::CloudWatch::Alarm').filter(([, a]) =>
          referencedIds(a.Properties?.Dimensions).has(queue),
        );
        expect(alarms.map(([, a]) => a.Properties)).toEqual([
          expect.objectContaining({
            Namespace: 'AWS/SQS',
            MetricName: 'ApproximateNumberOfMessagesVisible',
            ComparisonOperator: 'GreaterThanThreshold',
            Threshold: 0,
          }),
        ]);
      }
    }
  });

  it('holds the route-with-cascade Express machine, its usage table and the JWT secret', () => {
    const router = resource('RouteWithCascadeStateMachine');

    expect(router.Properties?.StateMachineType).toBe('EXPRESS');
    expect(resource('UsageTable').Type).toBe('AWS::DynamoDB::Table');
    expect(resource('JwtSigningSecret').Type).toBe('AWS::SecretsManager::Secret');
    expect(
      (propertiesOf('GenerateLambdaFunction').Environment as { Variables: Node }).Variables
        .ROUTE_WITH_CASCADE_STATE_MACHINE_ARN,
    ).toEqual({
      'Fn::GetAtt': ['RouteWithCascadeStateMachine', 'Arn'],
    });
  });

  it('runs the database migrations on deploy through a custom resource, after the cluster has an instance', () => {
    const migrations = resource('DatabaseMigrations');
    const cluster = propertiesOf('DatabaseCluster');

    expect(migrations.Type).toBe('Custom::DatabaseMigrations');
    expect(migrations.Properties?.ServiceToken).toEqual({ 'Fn::GetAtt': ['MigrateDatabaseLambdaFunction', 'Arn'] });
    expect(asArray(migrations.DependsOn)).toContain('DatabaseInstance');
    expect(cluster).toMatchObject({
      Engine: 'aurora-postgresql',
      ManageMasterUserPassword: true,
      EnableHttpEndpoint: true,
      ServerlessV2ScalingConfiguration: { MinCapacity: 0, MaxCapacity: 4 },
    });
    expect(resource('DatabaseInstance').Properties?.DBInstanceClass).toBe('db.serverless');
  });

  describe('edge', () => {
    const CACHING_DISABLED = '4135ea2d-6df8-44a3-9df3-4b5a84be39ad';
    const ALL_VIEWER_EXCEPT_HOST_HEADER = 'b689b0a8-53d0-40ab-baf2-68738e2966ac';
    const kvsArn = { 'Fn::GetAtt': ['EdgeKeyValueStore', 'Arn'] };

    interface Behavior extends Node {
      PathPattern?: string;
      TargetOriginId: string;
      AllowedMethods: string[];
      FunctionAssociations?: { EventType: string; FunctionARN: unknown }[];
    }

    function distributionConfig(): {
      Origins: { Id: string; DomainName: unknown; CustomOriginConfig: Node }[];
      DefaultCacheBehavior: Behavior;
      CacheBehaviors: Behavior[];
    } {
      return propertiesOf('EdgeDistribution').DistributionConfig as ReturnType<typeof distributionConfig>;
    }

    it('holds a KeyValueStore named for the service and stage, its ARN an output', () => {
      const store = resource('EdgeKeyValueStore');

      expect(store.Type).toBe('AWS::CloudFront::KeyValueStore');
      expect(store.Properties?.Name).toBe('composable-ai-ci');
      expect(outputs.EdgeKeyValueStoreArn?.Value).toEqual(kvsArn);
    });

    it('publishes functions/edge/precomputed.js, byte for byte and under 10 KB, on cloudfront-js-2.0 with the store', () => {
      const fn = resource('PrecomputedEdgeFunction');
      const source = readFileSync(join(root, 'functions/edge/precomputed.js'));

      const code = String(fn.Properties?.FunctionCode);

      expect(fn.Type).toBe('AWS::CloudFront::Function');
      expect(fn.Properties?.AutoPublish).toBe(true);
      expect(fn.Properties?.FunctionConfig).toMatchObject({
        Runtime: 'cloudfront-js-2.0',
        KeyValueStoreAssociations: [{ KeyValueStoreARN: kvsArn }],
      });
      expect(Buffer.from(code, 'utf8').equals(source)).toBe(true);
      expect(source.length).toBeGreaterThan(0);
      expect(source.length).toBeLessThan(10_240);
    });

    it('fronts the HTTP API over HTTPS with caching disabled and every method of the API allowed', () => {
      const { Origins, DefaultCacheBehavior } = distributionConfig();

      expect(resource('HttpApi').Type).toBe('AWS::ApiGatewayV2::Api');
      expect(Origins).toEqual([
        {
          Id: DefaultCacheBehavior.TargetOriginId,
          DomainName: { 'Fn::Select': [2, { 'Fn::Split': ['/', { 'Fn::GetAtt': ['HttpApi', 'ApiEndpoint'] }] }] },
          CustomOriginConfig: expect.objectContaining({ OriginProtocolPolicy: 'https-only' }),
        },
      ]);
      expect(DefaultCacheBehavior).toMatchObject({
        ViewerProtocolPolicy: 'https-only',
        CachePolicyId: CACHING_DISABLED,
        OriginRequestPolicyId: ALL_VIEWER_EXCEPT_HOST_HEADER,
      });
      expect(DefaultCacheBehavior.AllowedMethods).toEqual(expect.arrayContaining(['GET', 'POST', 'DELETE']));
      expect(DefaultCacheBehavior.FunctionAssociations ?? []).toEqual([]);
      expect(outputs.EdgeDistributionDomainName?.Value).toEqual({ 'Fn::GetAtt': ['EdgeDistribution', 'DomainName'] });
    });

    it('runs the edge function on viewer-request of GET/HEAD /precomputed/* only, with the managed policies', () => {
      const { Origins, CacheBehaviors } = distributionConfig();

      const withFunction = CacheBehaviors.filter((b) => (b.FunctionAssociations ?? []).length > 0);

      expect(CacheBehaviors).toHaveLength(1);
      expect(withFunction).toHaveLength(1);
      expect(withFunction[0]).toMatchObject({
        PathPattern: '/precomputed/*',
        TargetOriginId: Origins[0]?.Id,
        ViewerProtocolPolicy: 'https-only',
        AllowedMethods: ['GET', 'HEAD'],
        CachePolicyId: CACHING_DISABLED,
        OriginRequestPolicyId: ALL_VIEWER_EXCEPT_HOST_HEADER,
        FunctionAssociations: [
          { EventType: 'viewer-request', FunctionARN: { 'Fn::GetAtt': ['PrecomputedEdgeFunction', 'FunctionARN'] } },
        ],
      });
    });

    it('writes the edge token settings on every deploy (custom resource) and every 15 minutes (schedule)', () => {
      const settings = resource('EdgeStoreSettings');
      const rules = ofType('AWS::Events::Rule').filter(([, r]) =>
        asArray(r.Properties?.Targets as { Arn: unknown }[] | undefined).some((t) =>
          referencedIds(t.Arn).has('MaintainEdgeStoreLambdaFunction'),
        ),
      );

      expect(settings.Type).toBe('Custom::EdgeStoreSettings');
      expect(settings.Properties?.ServiceToken).toEqual({ 'Fn::GetAtt': ['MaintainEdgeStoreLambdaFunction', 'Arn'] });
      expect(rules.map(([, r]) => r.Properties?.ScheduleExpression)).toEqual(['rate(15 minutes)']);
    });

    it('holds the edge index table with its TTL, named to every function with the store ARN', () => {
      const table = resource('EdgeIndexTable');

      expect(table.Type).toBe('AWS::DynamoDB::Table');
      expect(table.Properties).toMatchObject({
        KeySchema: [
          { AttributeName: 'pk', KeyType: 'HASH' },
          { AttributeName: 'sk', KeyType: 'RANGE' },
        ],
        TimeToLiveSpecification: { AttributeName: 'expiresAt', Enabled: true },
        BillingMode: 'PAY_PER_REQUEST',
      });
      for (const key of functionKeys) {
        const variables = (propertiesOf(lambdaLogicalId(key)).Environment as { Variables: Node }).Variables;
        expect({ key, table: variables.EDGE_INDEX_TABLE, kvs: variables.EDGE_KVS_ARN }).toEqual({
          key,
          table: { Ref: 'EdgeIndexTable' },
          kvs: kvsArn,
        });
      }
    });

    it('grants the KeyValueStore and index actions on those resources only, in any role', () => {
      const statements = ofType('AWS::IAM::Role').flatMap(([, role]) => allowStatements(role));

      const kvsGrants = statements.filter((s) =>
        asArray(s.Action).some((a) => actionsOverlap(a, 'cloudfront-keyvaluestore:*')),
      );
      const indexGrants = statements.filter((s) => referencedIds(s.Resource).has('EdgeIndexTable'));

      expect(kvsGrants).toEqual([
        {
          Effect: 'Allow',
          Action: [
            'cloudfront-keyvaluestore:DescribeKeyValueStore',
            'cloudfront-keyvaluestore:GetKey',
            'cloudfront-keyvaluestore:ListKeys',
            'cloudfront-keyvaluestore:UpdateKeys',
          ],
          Resource: kvsArn,
        },
      ]);
      expect(indexGrants).toEqual([
        {
          Effect: 'Allow',
          Action: [
            'dynamodb:GetItem',
            'dynamodb:BatchGetItem',
            'dynamodb:PutItem',
            'dynamodb:UpdateItem',
            'dynamodb:DeleteItem',
            'dynamodb:Query',
            'dynamodb:BatchWriteItem',
          ],
          Resource: { 'Fn::GetAtt': ['EdgeIndexTable', 'Arn'] },
        },
      ]);
    });
  });

  describe('bulk-ingest state machine', () => {
    const arnOf = (kind: 'stateMachine' | 'execution', name: string) =>
      `arn:\${AWS::Partition}:states:\${AWS::Region}:\${AWS::AccountId}:${kind}:${name}`;
    /** The role's statements as action → the ARN templates or references it is granted on. */
    function grants(): Map<string, string[]> {
      const roleId = [...referencedIds(propertiesOf('BulkIngestStateMachine').RoleArn)][0] as string;
      const byAction = new Map<string, string[]>();
      for (const statement of allowStatements(resource(roleId))) {
        const targets = asArray(statement.Resource as unknown).map((r) => JSON.stringify(r));
        for (const action of asArray(statement.Action))
          byAction.set(action, [...(byAction.get(action) ?? []), ...targets]);
      }
      return byAction;
    }

    it('is a STANDARD machine whose Distributed Map lists the documents bucket and writes its results to staging', () => {
      const props = propertiesOf('BulkIngestStateMachine');
      const { definition, substitutions } = deployedDefinition('BulkIngestStateMachine');
      const map = (definition.States as Record<string, Node>).IngestPrefix as Node;
      const placeholder = (value: unknown) => substitutions[/^\$\{(\w+)\}$/.exec(String(value))?.[1] ?? ''];

      expect(props.StateMachineType).toBe('STANDARD');
      expect(props.StateMachineName).toBe('composable-ai-ci-bulk-ingest');
      expect(map.Type).toBe('Map');
      expect((map.ItemProcessor as Node).ProcessorConfig).toEqual({ Mode: 'DISTRIBUTED', ExecutionType: 'STANDARD' });
      expect((map.ItemReader as Node).Resource).toBe('arn:aws:states:::s3:listObjectsV2');
      expect(placeholder(((map.ItemReader as Node).Parameters as Node).Bucket)).toEqual({ Ref: 'DocumentsBucket' });
      expect(placeholder(((map.ResultWriter as Node).Parameters as Node).Bucket)).toEqual({ Ref: 'StagingBucket' });
      expect((map.ItemBatcher as Node).MaxItemsPerBatch).toEqual(expect.any(Number));
      expect(map.MaxConcurrency).toEqual(expect.any(Number));
      expect(map.ToleratedFailurePercentagePath).toBe('$.toleratedFailurePercentage');
    });

    it('may start its own child executions and ingest-and-index, and invoke only its two Lambdas', () => {
      const granted = grants();

      expect(granted.get('states:StartExecution')?.sort()).toEqual(
        [
          JSON.stringify({ 'Fn::Sub': arnOf('stateMachine', 'composable-ai-ci-ingest-and-index') }),
          JSON.stringify({ 'Fn::Sub': [arnOf('stateMachine', 'composable-ai-ci-bulk-ingest'), {}] }),
        ].sort(),
      );
      expect(granted.get('states:StopExecution')?.every((r) => r.includes(':execution:composable-ai-ci-'))).toBe(true);
      expect(granted.get('states:RedriveExecution')).toEqual([
        JSON.stringify({ 'Fn::Sub': `${arnOf('execution', 'composable-ai-ci-bulk-ingest')}/*` }),
      ]);
      // the re-embed run's SwitchGeneration and PurgeRetiredGenerations, nothing else
      const roleId = [...referencedIds(propertiesOf('BulkIngestStateMachine').RoleArn)][0] as string;
      const invocable = allowStatements(resource(roleId))
        .filter((st) => asArray(st.Action).includes('lambda:InvokeFunction'))
        .flatMap((st) => [...referencedIds(st.Resource)]);
      expect([...new Set(invocable)].sort()).toEqual(
        ['switchGeneration', 'purgeRetiredGenerations'].map(lambdaLogicalId).sort(),
      );
    });

    it('reads (List/Get) the documents bucket only and writes under staging bulk-ingest/ only', () => {
      const granted = grants();
      const onDocuments = (targets: string[] | undefined) =>
        (targets ?? []).every((t) => t.includes('"Ref":"DocumentsBucket"'));

      expect(onDocuments(granted.get('s3:List*'))).toBe(true);
      expect((granted.get('s3:List*') ?? []).length).toBeGreaterThan(0);
      expect(
        (granted.get('s3:GetObject') ?? []).every((t) => t.includes('StagingBucket') && t.includes('/bulk-ingest/*')),
      ).toBe(true);
      expect((granted.get('s3:PutObject') ?? []).length).toBeGreaterThan(0);
      expect(
        (granted.get('s3:PutObject') ?? []).every((t) => t.includes('StagingBucket') && t.includes('/bulk-ingest/*')),
      ).toBe(true);
    });
  });

  it('holds the OpenSearch Serverless vector collection and its policies only when vectorStore=opensearch', () => {
    const chosen = ['RagEncryptionPolicy', 'RagNetworkPolicy', 'RagDataAccessPolicy', 'RagCollection'].map((id) => {
      const r = resource(id) as Resource & { Condition?: string };
      return [id, r.Type, r.Condition, r.Properties?.Type];
    });
    const collectionName = resource('RagCollection').Properties?.Name as string;
    const dataPolicy = JSON.stringify(resource('RagDataAccessPolicy').Properties?.Policy);
    const env = (resource('SearchChunksLambdaFunction').Properties?.Environment ?? {}) as { Variables?: Node };
    const policy = (resource('RagCollectionAccessPolicy').Properties?.PolicyDocument ?? {}) as {
      Statement?: Statement[];
    };
    const grant = policy.Statement?.[0];

    expect(chosen).toEqual([
      ['RagEncryptionPolicy', 'AWS::OpenSearchServerless::SecurityPolicy', 'OpenSearchChosen', 'encryption'],
      ['RagNetworkPolicy', 'AWS::OpenSearchServerless::SecurityPolicy', 'OpenSearchChosen', 'network'],
      ['RagDataAccessPolicy', 'AWS::OpenSearchServerless::AccessPolicy', 'OpenSearchChosen', 'data'],
      ['RagCollection', 'AWS::OpenSearchServerless::Collection', 'OpenSearchChosen', 'VECTORSEARCH'],
    ]);
    expect(collectionName).toMatch(/^[a-z][a-z0-9-]{2,31}$/);
    expect(resource('RagCollection').DependsOn).toEqual(['RagEncryptionPolicy', 'RagNetworkPolicy']);
    expect(dataPolicy).toContain(`index/${collectionName}/*`);
    expect(dataPolicy).toContain('IamRoleLambdaExecution');
    expect(grant).toMatchObject({
      Action: ['aoss:APIAccessAll'],
      Resource: { 'Fn::GetAtt': ['RagCollection', 'Arn'] },
    });
    // the default deploys none of it: the condition compares the default param with "opensearch"
    expect(conditions.OpenSearchChosen).toEqual({ 'Fn::Equals': ['pgvector', 'opensearch'] });
    expect(env.Variables?.VECTOR_STORE).toBe('pgvector');
    expect(env.Variables?.OPENSEARCH_ENDPOINT).toEqual({
      'Fn::If': [
        'OpenSearchChosen',
        { 'Fn::GetAtt': ['RagCollection', 'CollectionEndpoint'] },
        { Ref: 'AWS::NoValue' },
      ],
    });
  });

  it('grants no data-plane action on every resource, in any role', () => {
    const roles = ofType('AWS::IAM::Role');

    const grants = roles.flatMap(([id, role]) =>
      allowStatements(role).flatMap((s) => dataPlaneWildcardGrants(s).map((action) => `${id}: ${action}`)),
    );

    // The separate policies exist only when chosen: extract-memory's guardrail permission when a guardrail is
    // configured (resources/memory.yml), ApplyGuardrail on that guardrail; the RAG collection's when
    // vectorStore=opensearch (resources/opensearch.yml), aoss:APIAccessAll on that collection. No data-plane wildcard.
    const policies = ofType('AWS::IAM::Policy') as [string, Resource & { Condition?: string }][];
    const policyStatements = policies.flatMap(([, p]) => {
      const document = (p.Properties?.PolicyDocument ?? { Statement: [] }) as { Statement: Statement[] };
      return document.Statement.filter((s) => s.Effect === 'Allow');
    });

    expect(roles.length).toBeGreaterThanOrEqual(4);
    expect(grants).toEqual([]);
    expect(policies.map(([id, p]) => [id, p.Condition])).toEqual([
      ['MemoryGuardrailPolicy', 'MemoryGuardrailConfigured'],
      ['RagCollectionAccessPolicy', 'OpenSearchChosen'],
    ]);
    expect(policyStatements.map((s) => s.Action)).toEqual([['bedrock:ApplyGuardrail'], ['aoss:APIAccessAll']]);
    expect(policyStatements.flatMap(dataPlaneWildcardGrants)).toEqual([]);
    expect(ofType('AWS::IAM::ManagedPolicy')).toEqual([]);
  });

  it('detects wildcard data-plane grants, including through action wildcards', () => {
    const statement = (Action: string[]): Statement => ({ Effect: 'Allow', Action, Resource: ['*'] });

    expect(dataPlaneWildcardGrants(statement(['s3:*', 'xray:PutTraceSegments']))).toEqual(['s3:*']);
    expect(dataPlaneWildcardGrants(statement(['rds-data:ExecuteStatement']))).toEqual(['rds-data:ExecuteStatement']);
    expect(dataPlaneWildcardGrants(statement(['logs:CreateLogDelivery']))).toEqual([]);
    expect(dataPlaneWildcardGrants(statement(['cloudfront-keyvaluestore:GetKey']))).toEqual([
      'cloudfront-keyvaluestore:GetKey',
    ]);
  });

  it('has no circular dependency between resources', () => {
    const dependsOn = new Map(
      Object.entries(resources).map(([id, r]) => [
        id,
        [...referencedIds(r.Properties), ...asArray(r.DependsOn)].filter((d) => d in resources),
      ]),
    );
    const cycles: string[] = [];
    const state = new Map<string, 'visiting' | 'done'>();
    const visit = (id: string, path: string[]): void => {
      state.set(id, 'visiting');
      for (const next of dependsOn.get(id) ?? []) {
        if (state.get(next) === 'visiting') cycles.push([...path.slice(path.indexOf(next)), next].join(' → '));
        else if (!state.has(next)) visit(next, [...path, next]);
      }
      state.set(id, 'done');
    };

    for (const id of dependsOn.keys()) if (!state.has(id)) visit(id, [id]);

    expect(cycles).toEqual([]);
  });
});
