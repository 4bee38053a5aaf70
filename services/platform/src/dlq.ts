import type { JsMsg, JetStreamClient } from '@nats-io/jetstream';
import { headers as natsHeaders } from '@nats-io/nats-core';
import { H, header } from './headers.js';
import type { Names } from './names.js';
import { taskIdFromDelivery } from './task-id.js';

/** Why a message was dead-lettered. */
export type DeadLetterKind = 'undecodable' | 'invalid' | 'max_deliveries' | 'unsupported';

/**
 * Republishes a message to LUCY_DLQ with the reason in headers (original headers kept). The DLQ publish is
 * deduplicated by original stream and sequence, so two consumers giving up on the same message leave one entry.
 * A command published without `Lucy-Task-Id` gets the id its worker and task-tracker derived for it
 * ({@link taskIdFromDelivery}), so staff can go from the dead letter to its Tarea and a re-drive names it as parent.
 */
export async function deadLetter(
  js: JetStreamClient,
  names: Names,
  msg: JsMsg,
  kind: DeadLetterKind,
  reason: string,
  consumer: string,
  /** Task id of the message when the caller knows it (the runner's, derived or not). */
  taskId?: string,
): Promise<void> {
  const h = natsHeaders();
  if (msg.headers) {
    for (const [k, values] of msg.headers) {
      // The original id would make JetStream drop the copy as a duplicate; keep it under another name.
      if (k.toLowerCase() === H.msgId.toLowerCase()) h.set('Lucy-Dlq-Original-Msg-Id', values[0] ?? '');
      else for (const v of values) h.append(k, v);
    }
  }
  if (!header(h, H.taskId)) {
    const derived =
      taskId ??
      (msg.info.stream === names.streams.cmd
        ? taskIdFromDelivery(
            msg.info.stream,
            msg.info.streamSequence,
            Math.floor(msg.info.timestampNanos / 1e6),
          )
        : undefined);
    if (derived) h.set(H.taskId, derived);
  }
  h.set(H.dlqReason, `${kind}: ${reason}`.slice(0, 1024).replace(/[\r\n]+/g, ' '));
  h.set(H.dlqSubject, names.canonical(msg.subject));
  h.set(H.dlqStream, msg.info.stream);
  h.set(H.dlqSequence, String(msg.info.streamSequence));
  h.set(H.dlqConsumer, consumer);
  h.set(H.dlqDeliveries, String(msg.info.deliveryCount));
  h.set(H.dlqAt, new Date().toISOString());
  await js.publish(names.dlq(msg.subject), msg.data, {
    headers: h,
    msgID: `dlq:${msg.info.stream}:${msg.info.streamSequence}`,
  });
}
