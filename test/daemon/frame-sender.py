# Sends the Ethernet frames given as hex lines on stdin out of one interface (AF_PACKET, so any
# frame the test built goes out as is: IPv6, GRE, labelled), then prints how many were sent.
# Run inside a test namespace: ip netns exec NS python3 frame-sender.py IFACE < frames
import socket
import sys

s = socket.socket(socket.AF_PACKET, socket.SOCK_RAW)
s.bind((sys.argv[1], 0))
sent = 0
for line in sys.stdin:
    line = line.strip()
    if line:
        s.send(bytes.fromhex(line))
        sent += 1
print(sent)
