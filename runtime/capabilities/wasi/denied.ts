// Filesystem and sockets are linked so that any toolchain's component instantiates, but grant
// nothing: no preopened directory, and every socket or name lookup is refused.

import { fail } from "./io.ts";

class Descriptor {}
class DirectoryEntryStream {}
class Network {}
class TcpSocket {}
class UdpSocket {}
class IncomingDatagramStream {}
class OutgoingDatagramStream {}
class ResolveAddressStream {}

const denied = (): never => fail("access-denied");

export function createDeniedImports() {
  return {
    "wasi:filesystem/preopens": { getDirectories: (): [Descriptor, string][] => [] },
    "wasi:filesystem/types": {
      Descriptor,
      DirectoryEntryStream,
      filesystemErrorCode: (): undefined => undefined,
    },
    "wasi:sockets/network": { Network },
    "wasi:sockets/instance-network": { instanceNetwork: () => new Network() },
    "wasi:sockets/tcp": { TcpSocket },
    "wasi:sockets/tcp-create-socket": { createTcpSocket: denied },
    "wasi:sockets/udp": { UdpSocket, IncomingDatagramStream, OutgoingDatagramStream },
    "wasi:sockets/udp-create-socket": { createUdpSocket: denied },
    "wasi:sockets/ip-name-lookup": { ResolveAddressStream, resolveAddresses: denied },
  };
}
