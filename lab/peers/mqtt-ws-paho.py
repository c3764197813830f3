"""MQTT over WebSocket client of the pub/sub captures (client namespace): Debian's python3-paho-mqtt
against mosquitto's websockets listener.

argv: host port seconds. Connects over WebSocket (path /mqtt, subprotocol mqtt) with a 2 s
keep-alive, subscribes to lab/wsp/#, publishes one QoS 1 message a second on lab/wsp/reading for
`seconds` seconds (each comes back through the subscription), then disconnects. The session runs
long enough that a capture cut after its first packets starts inside it. Prints how many
messages came back.
"""
import sys
import time

import paho.mqtt.client as mqtt

host, port, seconds = sys.argv[1], int(sys.argv[2]), float(sys.argv[3])
got = []
c = mqtt.Client(client_id='lab-ws-paho', transport='websockets', protocol=mqtt.MQTTv311)
c.ws_set_options(path='/mqtt')
c.on_message = lambda _c, _u, msg: got.append(msg.payload)
c.connect(host, port, keepalive=2)
c.loop_start()
c.subscribe('lab/wsp/#', qos=1)
end = time.time() + seconds
i = 0
while time.time() < end:
    c.publish('lab/wsp/reading', ('reading %d ' % i).encode() * 3, qos=1)
    i += 1
    time.sleep(1.0)
time.sleep(3.0)  # idle past the keep-alive: PINGREQ/PINGRESP on the wire
c.disconnect()
c.loop_stop()
print(len(got))
