"""AMQP 0-9-1 client of the pub/sub captures (client namespace), python3-pika against RabbitMQ.

argv: host port cafile idle_seconds (cafile empty = plain TCP). Declares a topic exchange and a
queue, publishes three messages, consumes them, stays idle with a 2 s heartbeat, then closes.
Prints how many messages it consumed.
"""
import ssl
import sys
import time

import pika

host, port, cafile, idle = sys.argv[1], int(sys.argv[2]), sys.argv[3], float(sys.argv[4])
params = dict(host=host, port=port, virtual_host='/', heartbeat=2, credentials=pika.PlainCredentials('guest', 'guest'),
              client_properties={'connection_name': 'ndr-lab'})
if cafile:
    ctx = ssl.create_default_context(cafile=cafile)
    ctx.check_hostname = False
    params['ssl_options'] = pika.SSLOptions(ctx, 'broker.lab')
conn = pika.BlockingConnection(pika.ConnectionParameters(**params))
ch = conn.channel()
ch.exchange_declare(exchange='lab.events', exchange_type='topic', durable=False)
ch.queue_declare(queue='lab.queue', durable=False, auto_delete=True)
ch.queue_bind(queue='lab.queue', exchange='lab.events', routing_key='lab.#')
for i in range(3):
    ch.basic_publish(exchange='lab.events', routing_key='lab.sensor.%d' % i, body=('reading %d ' % i).encode() * (i + 1))
got = []


def on_message(channel, method, _properties, body):
    got.append(body)
    channel.basic_ack(method.delivery_tag)


ch.basic_consume(queue='lab.queue', on_message_callback=on_message, consumer_tag='lab-consumer')
end = time.time() + idle
while time.time() < end:
    conn.process_data_events(time_limit=0.5)
ch.close()
conn.close()
print(len(got))
