import type { DescService } from '@bufbuild/protobuf';
import { createClient, type Client, type Interceptor, type Transport } from '@connectrpc/connect';
import { createConnectTransport, createGrpcTransport } from '@connectrpc/connect-node';
import { traceClientInterceptor } from './tracing.js';

/** Options of {@link createRpcTransport}. */
export interface RpcClientOptions {
  /** Base URL of the service, e.g. `http://127.0.0.1:7101`. */
  baseUrl: string;
  /** Bearer token. */
  token: string;
  /** Protocol; default `connect`. */
  protocol?: 'connect' | 'grpc';
  /** CA certificate(s) (PEM) to trust for an `https://` base URL with a private CA. */
  ca?: string | Buffer;
}

/** A transport over HTTP/2 (cleartext, or TLS for an `https://` URL) that sends the bearer token on every call. */
export function createRpcTransport(options: RpcClientOptions): Transport {
  const auth: Interceptor = (next) => async (req) => {
    req.header.set('authorization', `Bearer ${options.token}`);
    return next(req);
  };
  const common = {
    baseUrl: options.baseUrl,
    httpVersion: '2' as const,
    interceptors: [auth, traceClientInterceptor()],
    ...(options.ca ? { nodeOptions: { ca: options.ca } } : {}),
  };
  return options.protocol === 'grpc' ? createGrpcTransport(common) : createConnectTransport(common);
}

/** A typed client for one service. */
export function createRpcClient<S extends DescService>(service: S, options: RpcClientOptions): Client<S> {
  return createClient(service, createRpcTransport(options));
}
