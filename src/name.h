/*
 * User names, checked in one place for every way one arrives: the passwd file, config,
 * LOGIN/USER/AUTHENTICATE, deliver's argument. A valid name is also a safe path component.
 */
#ifndef MAILNOOK_NAME_H
#define MAILNOOK_NAME_H

/* 1 when name is 1..NAME_LEN-1 of letters, digits and . _ - + and starts with neither . nor -. */
int name_user_valid(const char *name);

#endif
