// gRPC server reflection (grpc.reflection.v1 and v1alpha) that grpcurl accepts.
//
// @grpc/reflection normally serves the FileDescriptorProtos that @grpc/proto-loader rebuilds from protobufjs, and
// those carry relative type names ("trace.v1.ResourceSpans"); grpcurl rejects them as unresolvable references
// (grpc/grpc-node#3018). @grpc/reflection indexes files and symbols only from the `fileDescriptorProtos` of each
// definition in the package definition it is given, so we give it a package definition whose descriptors are
// protoc's own (proto/descriptor-set.binpb, see scripts/gen-descriptors.sh): fully-qualified names, real file
// names, every import present.
//
// Each listener reflects only what it serves: the files that define its services and what they import.
import { readFileSync } from 'node:fs';
import type * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import protobuf from 'protobufjs';
import descriptor from 'protobufjs/ext/descriptor/index.js';
import { ConfigError } from '../errors.js';
import { DESCRIPTOR_SET_PATH } from '../protos.js';

/** FileDescriptorSet.file is field 1, length-delimited. */
const FILE_FIELD_TAG = (1 << 3) | 2;

/** The reflection services themselves, listed on every listener that serves reflection. */
export const REFLECTION_SERVICES = ['grpc.reflection.v1.ServerReflection', 'grpc.reflection.v1alpha.ServerReflection'];

/**
 * Serves reflection on `server` for `services` (fully-qualified names, each defined in proto/) and the reflection
 * services: list_services names exactly those, and only their files (with every import) can be fetched.
 */
export function addReflection(server: Pick<grpc.Server, 'addService'>, services: readonly string[]): void {
  const listed = [...services, ...REFLECTION_SERVICES];
  new ReflectionService(protocPackageDefinition(listed), { services: listed }).addToServer(server);
}

interface ProtocFile {
  bytes: Buffer;
  name: string;
  dependencies: string[];
  services: string[];
}

let protocFiles: ProtocFile[] | undefined;
let loaded: protoLoader.PackageDefinition | undefined;

function protocPackageDefinition(services: readonly string[]): protoLoader.PackageDefinition {
  if (!protocFiles || !loaded) [protocFiles, loaded] = readDescriptorSet();
  const files = closure(protocFiles, services);
  const definition: protoLoader.PackageDefinition = {};
  for (const [name, entry] of Object.entries(loaded)) {
    definition[name] = isTypeDefinition(entry) ? { ...entry, fileDescriptorProtos: files } : entry;
  }
  return definition;
}

/** The files defining `services`, and every file they import, directly or not. */
function closure(files: readonly ProtocFile[], services: readonly string[]): Buffer[] {
  const byName = new Map(files.map((file) => [file.name, file]));
  const wanted: ProtocFile[] = services.map((service) => {
    const file = files.find((f) => f.services.includes(service));
    if (!file) throw new ConfigError(`${DESCRIPTOR_SET_PATH} does not describe ${service} (run scripts/gen-descriptors.sh)`);
    return file;
  });
  const chosen = new Set<ProtocFile>();
  for (let file = wanted.pop(); file !== undefined; file = wanted.pop()) {
    if (chosen.has(file)) continue;
    chosen.add(file);
    for (const dependency of file.dependencies) {
      const imported = byName.get(dependency);
      if (!imported) throw new ConfigError(`${DESCRIPTOR_SET_PATH}: ${file.name} imports ${dependency}, which it lacks (run scripts/gen-descriptors.sh)`);
      wanted.push(imported);
    }
  }
  // In the descriptor set's own order (protoc's), which keeps answers deterministic.
  return files.filter((file) => chosen.has(file)).map((file) => file.bytes);
}

function readDescriptorSet(): [ProtocFile[], protoLoader.PackageDefinition] {
  let descriptorSet: Buffer;
  try {
    descriptorSet = readFileSync(DESCRIPTOR_SET_PATH);
  } catch (cause) {
    throw new ConfigError(`cannot read ${DESCRIPTOR_SET_PATH} (run scripts/gen-descriptors.sh)`, { cause });
  }
  try {
    const files = splitFileDescriptorSet(descriptorSet).map((bytes): ProtocFile => {
      const file = descriptor.FileDescriptorProto.decode(bytes) as unknown as {
        name: string;
        package?: string;
        dependency?: string[];
        service?: { name: string }[];
      };
      const scope = file.package ? `${file.package}.` : '';
      return { bytes, name: file.name, dependencies: file.dependency ?? [], services: (file.service ?? []).map((s) => scope + s.name) };
    });
    return [files, protoLoader.loadFileDescriptorSetFromBuffer(descriptorSet)];
  } catch (cause) {
    throw new ConfigError(`${DESCRIPTOR_SET_PATH} is not a valid descriptor set (run scripts/gen-descriptors.sh)`, { cause });
  }
}

type TypeDefinition = protoLoader.MessageTypeDefinition<object, object> | protoLoader.EnumTypeDefinition;

/** Message and enum definitions carry file descriptors; service definitions are maps of methods. */
function isTypeDefinition(entry: protoLoader.AnyDefinition): entry is TypeDefinition {
  return typeof entry.format === 'string';
}

/** The FileDescriptorProto entries of a FileDescriptorSet, byte for byte as protoc wrote them. */
function splitFileDescriptorSet(descriptorSet: Buffer): Buffer[] {
  const reader = protobuf.Reader.create(descriptorSet);
  const files: Buffer[] = [];
  while (reader.pos < reader.len) {
    const tag = reader.uint32();
    if (tag === FILE_FIELD_TAG) files.push(Buffer.from(reader.bytes()));
    else reader.skipType(tag & 7);
  }
  if (files.length === 0) throw new Error('no file descriptors');
  return files;
}
