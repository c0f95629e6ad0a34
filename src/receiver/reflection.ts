// gRPC server reflection (grpc.reflection.v1 and v1alpha) that grpcurl accepts.
//
// @grpc/reflection normally serves the FileDescriptorProtos that @grpc/proto-loader rebuilds from protobufjs, and
// those carry relative type names ("trace.v1.ResourceSpans"); grpcurl rejects them as unresolvable references
// (grpc/grpc-node#3018). @grpc/reflection indexes files and symbols only from the `fileDescriptorProtos` of each
// definition in the package definition it is given, so we give it a package definition whose descriptors are
// protoc's own (proto/descriptor-set.binpb, see scripts/gen-descriptors.sh): fully-qualified names, real file
// names, every import present.
import { readFileSync } from 'node:fs';
import type * as grpc from '@grpc/grpc-js';
import * as protoLoader from '@grpc/proto-loader';
import { ReflectionService } from '@grpc/reflection';
import protobuf from 'protobufjs';
import { ConfigError } from '../errors.js';
import { DESCRIPTOR_SET_PATH } from '../protos.js';

/** FileDescriptorSet.file is field 1, length-delimited. */
const FILE_FIELD_TAG = (1 << 3) | 2;

/** Serves reflection for every service described in proto/ (and the reflection service itself) on `server`. */
export function addReflection(server: Pick<grpc.Server, 'addService'>): void {
  new ReflectionService(protocPackageDefinition()).addToServer(server);
}

let cached: protoLoader.PackageDefinition | undefined;

function protocPackageDefinition(): protoLoader.PackageDefinition {
  if (cached) return cached;
  let descriptorSet: Buffer;
  try {
    descriptorSet = readFileSync(DESCRIPTOR_SET_PATH);
  } catch (cause) {
    throw new ConfigError(`cannot read ${DESCRIPTOR_SET_PATH} (run scripts/gen-descriptors.sh)`, { cause });
  }
  let protocFiles: Buffer[];
  let loaded: protoLoader.PackageDefinition;
  try {
    protocFiles = splitFileDescriptorSet(descriptorSet);
    loaded = protoLoader.loadFileDescriptorSetFromBuffer(descriptorSet);
  } catch (cause) {
    throw new ConfigError(`${DESCRIPTOR_SET_PATH} is not a valid descriptor set (run scripts/gen-descriptors.sh)`, { cause });
  }
  const definition: protoLoader.PackageDefinition = {};
  for (const [name, entry] of Object.entries(loaded)) {
    definition[name] = isTypeDefinition(entry) ? { ...entry, fileDescriptorProtos: protocFiles } : entry;
  }
  cached = definition;
  return definition;
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
