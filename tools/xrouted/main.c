#include <stdio.h>
int main(void)
{
    printf("xrouted %s\n", XR_VERSION);
    return 0;
}
