#!/usr/bin/python3
"""Turn netdev features on or off, like `ethtool -K DEV NAME on|off`, for machines without
ethtool. Used by the lab to switch VLAN tag insertion off on veths that carry VLANs: a veth
otherwise hands the tag to the peer as metadata, and the XDP program there never sees it in the
frame. Usage: netdev_features.py DEV NAME=on|off ...   (runs in the caller's network namespace)
"""
import array
import ctypes
import fcntl
import socket
import struct
import sys

SIOCETHTOOL = 0x8946
ETHTOOL_GSTRINGS = 0x1B
ETHTOOL_GSSET_INFO = 0x37
ETHTOOL_SFEATURES = 0x3B
ETH_SS_FEATURES = 4
ETH_GSTRING_LEN = 32


def ethtool(sock, dev, buf):
    ifr = struct.pack('16sP', dev.encode(), ctypes.addressof(buf)) + b'\0' * 16
    fcntl.ioctl(sock.fileno(), SIOCETHTOOL, ifr)


def feature_names(sock, dev):
    info = ctypes.create_string_buffer(struct.pack('IIQI', ETHTOOL_GSSET_INFO, 0, 1 << ETH_SS_FEATURES, 0))
    ethtool(sock, dev, info)
    count = struct.unpack_from('I', info.raw, 16)[0]
    strings = ctypes.create_string_buffer(struct.pack('III', ETHTOOL_GSTRINGS, ETH_SS_FEATURES, count) + b'\0' * (count * ETH_GSTRING_LEN))
    ethtool(sock, dev, strings)
    raw = strings.raw[12:]
    return [raw[i * ETH_GSTRING_LEN:(i + 1) * ETH_GSTRING_LEN].split(b'\0', 1)[0].decode() for i in range(count)]


def main(argv):
    if len(argv) < 3:
        sys.stderr.write(__doc__)
        return 2
    dev = argv[1]
    sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
    names = feature_names(sock, dev)
    words = (len(names) + 31) // 32
    valid = array.array('I', [0] * words)
    requested = array.array('I', [0] * words)
    for arg in argv[2:]:
        name, _, state = arg.partition('=')
        if name not in names or state not in ('on', 'off'):
            sys.stderr.write(f'{dev}: unknown feature or state: {arg}\n')
            return 2
        bit = names.index(name)
        valid[bit // 32] |= 1 << (bit % 32)
        if state == 'on':
            requested[bit // 32] |= 1 << (bit % 32)
    blocks = b''.join(struct.pack('II', valid[i], requested[i]) for i in range(words))
    buf = ctypes.create_string_buffer(struct.pack('II', ETHTOOL_SFEATURES, words) + blocks)
    ethtool(sock, dev, buf)
    return 0


if __name__ == '__main__':
    sys.exit(main(sys.argv))
