#include "device.h"

#include "error.h"

#include <errno.h>
#include <stdio.h>
#include <string.h>

void device_open(Backend *be, const char *device, const char *precision, const Comm *comm,
                 FILE *announce) {
    Error err = {0};
    char why[512];
    if (!backend_open(be, device ? device : "auto", precision, why, sizeof why))
        input_error(&err, "%s", why); /* comm_check names the rank when there are several */
    comm_check(comm, &err);
    if (comm->rank == 0 && announce)
        fprintf(announce, "%s: device %s%s\n", program_invocation_short_name, be->name,
                comm->size > 1 ? " (rank 0; each rank its own)" : "");
}

bool device_option(int option, const char *value, DeviceOptions *out) {
    if (option == DEVICE_OPT_DEVICE)
        out->device = value;
    else if (option == DEVICE_OPT_PRECISION)
        out->precision = value;
    else
        return false;
    return true;
}

const char *device_for_family(const char *device, ModelFamily family) {
    const bool automatic = !device || strcmp(device, "auto") == 0;
    return family == FAMILY_CNN && automatic ? "cpu" : device;
}
