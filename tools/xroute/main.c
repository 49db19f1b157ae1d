#include <stdio.h>
int main(void)
{
    printf("xroute %s\n", XR_VERSION);
    return 0;
}
