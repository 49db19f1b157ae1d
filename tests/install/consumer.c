/* A consumer of the installed xroute package; compiled as C and as C++. */
#include <stdio.h>
#include <string.h>

#include <xroute/err.h>
#include <xroute/money.h>

int main(void)
{
    /* 0.5 BTC at 67321.45 USDT (price scale 2) is 33660.725 USDT, which USDT/6 holds exactly. */
    xr_amount qty;
    xr_price px;
    if (xr_amount_parse("0.5", 3, 8, 0, &qty, NULL) != XR_OK ||
        xr_price_parse("67321.45", 8, 2, 0, &px, NULL) != XR_OK)
        return 1;
    xr_pair_scale ps = {8, 6, 2};
    xr_amount quote;
    if (xr_notional(qty, px, &ps, XR_ROUND_DOWN, &quote) != XR_OK)
        return 2;
    char buf[XR_DECIMAL_STR_MAX];
    xr_amount_format(quote, 6, buf, sizeof buf);
    if (strcmp(buf, "33660.725000") != 0 ||
        strcmp(xr_err_name(XR_ERR_INSUFFICIENT_FUNDS), "INSUFFICIENT_FUNDS") != 0) {
        fprintf(stderr, "consumer: unexpected %s\n", buf);
        return 3;
    }
    return 0;
}
