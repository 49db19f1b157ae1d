/*
 * xroute/err.h - the one error code space of xroute.
 *
 * Every fallible function of the engine, the bank protocol, the client library and the CLI
 * reports an `xr_err`. The numeric values are part of the wire protocol and of the CLI's
 * output: once released a value never changes meaning and is never reused. New codes are
 * appended before XR_ERR__COUNT.
 *
 * Threading: every function here is pure and may be called from any thread.
 * Ownership: returned strings are static and live for the whole program.
 */
#ifndef XROUTE_ERR_H
#define XROUTE_ERR_H

#ifdef __cplusplus
extern "C" {
#endif

typedef enum xr_err {
    XR_OK = 0,                         /* success */
    XR_ERR_INSUFFICIENT_FUNDS = 1,     /* available balance below what the operation needs */
    XR_ERR_INSUFFICIENT_LIQUIDITY = 2, /* not enough venue depth inside the price bound */
    XR_ERR_SLIPPAGE_EXCEEDED = 3,      /* executable price moved beyond the allowed slippage */
    XR_ERR_QUOTE_EXPIRED = 4,          /* the quote's time to live has passed */
    XR_ERR_BANK_CONNECTION = 5,        /* the bank's session did not acknowledge in time */
    XR_ERR_LIMIT_EXCEEDED = 6,         /* a KYC, notional or count limit would be exceeded */
    XR_ERR_UNKNOWN_PAIR = 7,           /* the trading pair is not supported */
    XR_ERR_BELOW_MIN_SIZE = 8,         /* size below the pair's or venue's minimum */
    XR_ERR_INVALID_AMOUNT = 9,         /* amount or price is malformed, negative or mis-scaled */
    XR_ERR_IDEMPOTENCY_CONFLICT = 10,  /* same idempotency key, different content */
    XR_ERR_RATE_LIMITED = 11,          /* a rate limit refused the request */
    XR_ERR_VENUE_UNAVAILABLE = 12,     /* the venue is down, unsynced or disconnected */
    XR_ERR_UNAUTHORIZED = 13,          /* credentials, signature or access rights refused */
    XR_ERR_MALFORMED = 14,             /* the input could not be decoded */
    XR_ERR_NOT_FOUND = 15,             /* no such object */
    XR_ERR_INVALID_STATE = 16,         /* the object's state does not allow the operation */
    XR_ERR_OVERFLOW = 17,              /* an exact integer result does not fit its type */
    XR_ERR_AGAIN = 18,                 /* status: need more input or space, call again */
    XR_ERR_IO = 19,                    /* an operating-system or storage I/O call failed */
    XR_ERR_NO_MEMORY = 20,             /* a pool, ring or allocation is exhausted */
    XR_ERR_CONFIG = 21,                /* a configuration key or value is invalid */
    XR_ERR_TIMEOUT = 22,               /* the operation did not complete in time */
    XR_ERR_UNKNOWN_ASSET = 23,         /* the asset code is not registered */
    XR_ERR_ASSET_MISMATCH = 24,        /* the operands are in different assets */
    XR_ERR_ALREADY_EXISTS = 25,        /* an object with this id already exists */
    XR_ERR_STORAGE_FULL = 26,          /* the ledger's storage map is full */
    XR_ERR_CORRUPT = 27,               /* stored data failed an integrity check */
    XR_ERR_INVALID_ARGUMENT = 28,      /* an argument is outside its documented domain */
    XR_ERR_STALE = 29,                 /* market data or a timestamp is too old to use */
    XR_ERR_REJECTED = 30,              /* the venue rejected the order */
    XR_ERR_INTERNAL = 31,              /* an invariant failed inside xroute (a bug) */
    XR_ERR_NOT_SUPPORTED = 32,         /* the request is valid but this version does not do it */
    XR_ERR__COUNT                      /* not an error: one past the last code */
} xr_err;

/* The stable upper-case name of `err`, e.g. "INSUFFICIENT_FUNDS"; "OK" for XR_OK and
 * "UNKNOWN" for a value outside the enum. Never NULL. */
const char *xr_err_name(xr_err err);

/* A one-line human message for `err` (no trailing newline). Never NULL. */
const char *xr_err_message(xr_err err);

/* Looks up a code by its stable name (exact, case-sensitive). Returns the code, or
 * XR_ERR__COUNT when no code has that name. */
xr_err xr_err_from_name(const char *name);

#ifdef __cplusplus
}
#endif

#endif /* XROUTE_ERR_H */
