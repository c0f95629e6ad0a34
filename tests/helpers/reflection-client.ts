// A strict gRPC server reflection client for tests: it fetches descriptors the way grpcurl does
// (file_containing_symbol, then every dependency by file_by_filename) and reports every reference that grpcurl's
// descriptor builder would reject. Its client stub is built from @grpc/reflection's copy of the canonical
// reflection.proto, independently of what the server under test serves.
import { createRequire } from 'node:module';
import path from 'node:path';
import * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import descriptor from 'protobufjs/ext/descriptor/index.js';

export type ReflectionVersion = 'v1' | 'v1alpha';

/** The parts of google.protobuf.FileDescriptorProto (protobufjs camelCase) that resolution looks at. */
export interface FieldDescriptor {
  name: string;
  number: number;
  type: number;
  typeName?: string;
  oneofIndex?: number;
  proto3Optional?: boolean;
}
export interface MessageDescriptor {
  name: string;
  field?: FieldDescriptor[];
  nestedType?: MessageDescriptor[];
  enumType?: { name: string }[];
  oneofDecl?: { name: string }[];
}
export interface MethodDescriptor {
  name: string;
  inputType: string;
  outputType: string;
  clientStreaming?: boolean;
  serverStreaming?: boolean;
}
export interface FileDescriptor {
  name: string;
  package?: string;
  dependency?: string[];
  messageType?: MessageDescriptor[];
  enumType?: { name: string }[];
  service?: { name: string; method?: MethodDescriptor[] }[];
  syntax?: string;
}

const TYPE_ENUM = 14;
const TYPE_MESSAGE = 11;
const TYPE_GROUP = 10;

interface ReflectionRequest {
  host?: string;
  list_services?: string;
  file_by_filename?: string;
  file_containing_symbol?: string;
}
interface ReflectionResponse {
  message_response: 'list_services_response' | 'file_descriptor_response' | 'error_response' | string;
  list_services_response?: { service: { name: string }[] };
  file_descriptor_response?: { file_descriptor_proto: Buffer[] };
  error_response?: { error_code: number; error_message: string };
}

const require = createRequire(import.meta.url);
const reflectionProtoDir = path.join(path.dirname(require.resolve('@grpc/reflection/package.json')), 'build', 'proto');

/** One ServerReflectionInfo stream; requests are answered in order, one at a time. */
export class ReflectionClient {
  private readonly client: grpc.Client;
  private readonly stream: grpc.ClientDuplexStream<ReflectionRequest, ReflectionResponse>;
  private readonly pending: { resolve: (r: ReflectionResponse) => void; reject: (e: Error) => void }[] = [];
  private streamError: Error | undefined;

  constructor(address: string, readonly version: ReflectionVersion) {
    const definition = protoLoader.loadSync(`grpc/reflection/${version}/reflection.proto`, {
      includeDirs: [reflectionProtoDir],
      keepCase: true,
      oneofs: true,
    });
    const service = definition[`grpc.reflection.${version}.ServerReflection`] as grpc.ServiceDefinition;
    const Client = grpc.makeGenericClientConstructor(service, 'ServerReflection');
    this.client = new Client(address, grpc.credentials.createInsecure());
    const method = service['ServerReflectionInfo'];
    if (!method) throw new Error('reflection.proto without ServerReflectionInfo');
    this.stream = this.client.makeBidiStreamRequest(
      method.path, method.requestSerialize, method.responseDeserialize,
    ) as grpc.ClientDuplexStream<ReflectionRequest, ReflectionResponse>;
    this.stream.on('data', (response: ReflectionResponse) => this.pending.shift()?.resolve(response));
    this.stream.on('error', (error: Error) => {
      this.streamError = error;
      for (const waiter of this.pending.splice(0)) waiter.reject(error);
    });
  }

  async listServices(): Promise<string[]> {
    const response = await this.request({ list_services: '*' }, 'list_services_response');
    return (response.list_services_response?.service ?? []).map((s) => s.name);
  }

  async fileContainingSymbol(symbol: string): Promise<FileDescriptor[]> {
    return this.files({ file_containing_symbol: symbol });
  }

  async fileByFilename(name: string): Promise<FileDescriptor[]> {
    return this.files({ file_by_filename: name });
  }

  close(): void {
    this.stream.end();
    this.client.close();
  }

  private async files(request: ReflectionRequest): Promise<FileDescriptor[]> {
    const response = await this.request(request, 'file_descriptor_response');
    return (response.file_descriptor_response?.file_descriptor_proto ?? []).map(decodeFileDescriptor);
  }

  private request(request: ReflectionRequest, expected: string): Promise<ReflectionResponse> {
    if (this.streamError) return Promise.reject(this.streamError);
    return new Promise<ReflectionResponse>((resolve, reject) => {
      this.pending.push({
        resolve: (response) => {
          if (response.message_response === expected) resolve(response);
          else reject(new Error(`${JSON.stringify(request)} answered with ${JSON.stringify(response.error_response ?? response.message_response)}`));
        },
        reject,
      });
      this.stream.write({ host: '', ...request });
    });
  }
}

export function decodeFileDescriptor(bytes: Uint8Array): FileDescriptor {
  const message = descriptor.FileDescriptorProto.decode(bytes);
  return descriptor.FileDescriptorProto.toObject(message, { longs: Number, arrays: false }) as FileDescriptor;
}

/** Every file grpcurl would end up with for `symbol`: the answer to file_containing_symbol plus all imports. */
export async function fetchLikeGrpcurl(client: ReflectionClient, symbol: string): Promise<Map<string, FileDescriptor>> {
  const files = new Map<string, FileDescriptor>();
  const first = await client.fileContainingSymbol(symbol);
  if (!first[0]) throw new Error(`file_containing_symbol(${symbol}) returned no files`);
  for (const file of first) files.set(file.name, file);
  const wanted = [...first.flatMap((f) => f.dependency ?? [])];
  for (let name = wanted.pop(); name !== undefined; name = wanted.pop()) {
    if (files.has(name)) continue;
    const answer = await client.fileByFilename(name);
    const requested = answer.find((f) => f.name === name);
    if (!requested) throw new Error(`file_by_filename(${name}) did not return ${name}`);
    for (const file of answer) {
      if (!files.has(file.name)) {
        files.set(file.name, file);
        wanted.push(...(file.dependency ?? []));
      }
    }
  }
  return files;
}

export type SymbolKind = 'message' | 'enum' | 'service';

/** Fully-qualified name (leading dot) → where it is defined and what it is. */
export function symbolTable(files: Iterable<FileDescriptor>): Map<string, { file: string; kind: SymbolKind; message?: MessageDescriptor }> {
  const table = new Map<string, { file: string; kind: SymbolKind; message?: MessageDescriptor }>();
  const addMessages = (scope: string, messages: MessageDescriptor[] | undefined, file: string): void => {
    for (const message of messages ?? []) {
      const name = `${scope}.${message.name}`;
      table.set(name, { file, kind: 'message', message });
      for (const e of message.enumType ?? []) table.set(`${name}.${e.name}`, { file, kind: 'enum' });
      addMessages(name, message.nestedType, file);
    }
  };
  for (const file of files) {
    const scope = file.package ? `.${file.package}` : '';
    addMessages(scope, file.messageType, file.name);
    for (const e of file.enumType ?? []) table.set(`${scope}.${e.name}`, { file: file.name, kind: 'enum' });
    for (const s of file.service ?? []) table.set(`${scope}.${s.name}`, { file: file.name, kind: 'service' });
  }
  return table;
}

/**
 * What grpcurl (protoreflect/protodesc) would reject, as readable problems: imports that were not returned, type
 * names without a leading dot, names that resolve to nothing or to the wrong kind, names defined in a file that is
 * neither the referring file nor one of its direct imports, and inconsistent proto3 optional fields.
 */
export function unresolvableReferences(files: Map<string, FileDescriptor>): string[] {
  const problems: string[] = [];
  const table = symbolTable(files.values());
  const check = (file: FileDescriptor, where: string, ref: string | undefined, kinds: SymbolKind[]): void => {
    if (!ref) {
      problems.push(`${file.name}: ${where} has no type name`);
      return;
    }
    if (!ref.startsWith('.')) {
      problems.push(`${file.name}: ${where} refers to "${ref}", not fully qualified`);
      return;
    }
    const target = table.get(ref);
    if (!target) {
      problems.push(`${file.name}: ${where} refers to ${ref}, defined in no returned file`);
    } else if (!kinds.includes(target.kind)) {
      problems.push(`${file.name}: ${where} refers to ${ref}, a ${target.kind}, not a ${kinds.join('/')}`);
    } else if (target.file !== file.name && !(file.dependency ?? []).includes(target.file)) {
      problems.push(`${file.name}: ${where} refers to ${ref} from ${target.file}, which it does not import`);
    }
  };
  const checkMessages = (file: FileDescriptor, scope: string, messages: MessageDescriptor[] | undefined): void => {
    for (const message of messages ?? []) {
      const name = `${scope}.${message.name}`;
      for (const field of message.field ?? []) {
        const where = `field ${name}.${field.name}`;
        if (field.type === TYPE_MESSAGE || field.type === TYPE_GROUP) check(file, where, field.typeName, ['message']);
        else if (field.type === TYPE_ENUM) check(file, where, field.typeName, ['enum']);
        else if (field.typeName) problems.push(`${file.name}: scalar ${where} has type name ${field.typeName}`);
        if (field.proto3Optional && (field.oneofIndex === undefined || !message.oneofDecl?.[field.oneofIndex])) {
          problems.push(`${file.name}: proto3 optional ${where} has no synthetic oneof`);
        }
      }
      checkMessages(file, name, message.nestedType);
    }
  };
  for (const file of files.values()) {
    for (const dependency of file.dependency ?? []) {
      if (!files.has(dependency)) problems.push(`${file.name}: import ${dependency} was not returned`);
    }
    const scope = file.package ? `.${file.package}` : '';
    checkMessages(file, scope, file.messageType);
    for (const service of file.service ?? []) {
      for (const method of service.method ?? []) {
        const where = `method ${scope}.${service.name}.${method.name}`;
        check(file, `${where} input`, method.inputType, ['message']);
        check(file, `${where} output`, method.outputType, ['message']);
      }
    }
  }
  return problems;
}

/** Every message and enum reachable from `root` through fields, by fully-qualified name. */
export function reachableTypes(files: Map<string, FileDescriptor>, root: string): Set<string> {
  const table = symbolTable(files.values());
  const seen = new Set<string>();
  const queue = [root];
  for (let name = queue.pop(); name !== undefined; name = queue.pop()) {
    if (seen.has(name)) continue;
    seen.add(name);
    for (const field of table.get(name)?.message?.field ?? []) {
      if (field.typeName) queue.push(field.typeName);
    }
  }
  return seen;
}
