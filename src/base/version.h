#ifndef PRENAS_VERSION_H
#define PRENAS_VERSION_H

/* "0.1.0+g<commit>[-dirty]": recorded in every artefact's /meta. */
const char *prenas_version(void);

#endif
