/** The part of a pino logger the runtime uses; injected so the runtime never writes output itself. */
export interface Logger {
  info(obj: object, msg?: string): void;
  warn(obj: object, msg?: string): void;
  error(obj: object, msg?: string): void;
}
