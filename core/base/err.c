/*
 * The name and message tables of xr_err. The tables are indexed by the enum's explicit
 * values, so a gap or a reordering fails the build (see the static assertion) rather than
 * silently naming one code after another.
 */
#include "xroute/err.h"

#include <string.h>

typedef struct err_info {
    const char *name;
    const char *message;
} err_info;

static const err_info err_table[XR_ERR__COUNT] = {
    [XR_OK] = {"OK", "success"},
    [XR_ERR_INSUFFICIENT_FUNDS] = {"INSUFFICIENT_FUNDS",
                                   "available balance is below what the operation needs"},
    [XR_ERR_INSUFFICIENT_LIQUIDITY] = {"INSUFFICIENT_LIQUIDITY",
                                       "not enough venue liquidity inside the price bound"},
    [XR_ERR_SLIPPAGE_EXCEEDED] = {"SLIPPAGE_EXCEEDED",
                                  "the executable price moved beyond the allowed slippage"},
    [XR_ERR_QUOTE_EXPIRED] = {"QUOTE_EXPIRED", "the quote has expired"},
    [XR_ERR_BANK_CONNECTION] = {"BANK_CONNECTION", "the bank session did not acknowledge in time"},
    [XR_ERR_LIMIT_EXCEEDED] = {"LIMIT_EXCEEDED", "a configured limit would be exceeded"},
    [XR_ERR_UNKNOWN_PAIR] = {"UNKNOWN_PAIR", "the trading pair is not supported"},
    [XR_ERR_BELOW_MIN_SIZE] = {"BELOW_MIN_SIZE", "the size is below the minimum"},
    [XR_ERR_INVALID_AMOUNT] = {"INVALID_AMOUNT", "the amount or price is not valid"},
    [XR_ERR_IDEMPOTENCY_CONFLICT] = {"IDEMPOTENCY_CONFLICT",
                                     "the idempotency key was used with different content"},
    [XR_ERR_RATE_LIMITED] = {"RATE_LIMITED", "a rate limit refused the request"},
    [XR_ERR_VENUE_UNAVAILABLE] = {"VENUE_UNAVAILABLE", "the venue is not available"},
    [XR_ERR_UNAUTHORIZED] = {"UNAUTHORIZED", "not authorized"},
    [XR_ERR_MALFORMED] = {"MALFORMED", "the input could not be decoded"},
    [XR_ERR_NOT_FOUND] = {"NOT_FOUND", "no such object"},
    [XR_ERR_INVALID_STATE] = {"INVALID_STATE", "the object's state does not allow this"},
    [XR_ERR_OVERFLOW] = {"OVERFLOW", "the exact result does not fit its type"},
    [XR_ERR_AGAIN] = {"AGAIN", "more input or space is needed; call again"},
    [XR_ERR_IO] = {"IO", "an I/O operation failed"},
    [XR_ERR_NO_MEMORY] = {"NO_MEMORY", "a pool, ring or allocation is exhausted"},
    [XR_ERR_CONFIG] = {"CONFIG", "the configuration is not valid"},
    [XR_ERR_TIMEOUT] = {"TIMEOUT", "the operation timed out"},
    [XR_ERR_UNKNOWN_ASSET] = {"UNKNOWN_ASSET", "the asset is not registered"},
    [XR_ERR_ASSET_MISMATCH] = {"ASSET_MISMATCH", "the operands are in different assets"},
    [XR_ERR_ALREADY_EXISTS] = {"ALREADY_EXISTS", "an object with this id already exists"},
    [XR_ERR_STORAGE_FULL] = {"STORAGE_FULL", "the ledger storage is full"},
    [XR_ERR_CORRUPT] = {"CORRUPT", "stored data failed an integrity check"},
    [XR_ERR_INVALID_ARGUMENT] = {"INVALID_ARGUMENT", "an argument is out of its domain"},
    [XR_ERR_STALE] = {"STALE", "the data or timestamp is too old to use"},
    [XR_ERR_REJECTED] = {"REJECTED", "the venue rejected the order"},
    [XR_ERR_INTERNAL] = {"INTERNAL", "an internal invariant failed"},
    [XR_ERR_NOT_SUPPORTED] = {"NOT_SUPPORTED", "not supported in this version"},
};

_Static_assert(sizeof err_table / sizeof err_table[0] == XR_ERR__COUNT,
               "every xr_err value has a table entry");

static const err_info *err_lookup(xr_err err)
{
    if ((unsigned)err >= (unsigned)XR_ERR__COUNT || err_table[err].name == NULL)
        return NULL;
    return &err_table[err];
}

const char *xr_err_name(xr_err err)
{
    const err_info *info = err_lookup(err);
    return info ? info->name : "UNKNOWN";
}

const char *xr_err_message(xr_err err)
{
    const err_info *info = err_lookup(err);
    return info ? info->message : "unknown error code";
}

xr_err xr_err_from_name(const char *name)
{
    if (name == NULL)
        return XR_ERR__COUNT;
    for (unsigned i = 0; i < (unsigned)XR_ERR__COUNT; i++) {
        if (err_table[i].name != NULL && strcmp(err_table[i].name, name) == 0)
            return (xr_err)i;
    }
    return XR_ERR__COUNT;
}
