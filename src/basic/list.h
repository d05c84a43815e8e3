/* SPDX-License-Identifier: MIT */
#pragma once

/* Intrusive doubly-linked lists, in the manner of systemd's LIST_* macros:
 * an element embeds its links (LIST_FIELDS), a list is a pointer to its
 * first element (LIST_HEAD, NULL when empty), and an element may sit in
 * several lists at once through differently named fields:
 *
 *     struct Conn {
 *             LIST_FIELDS(Conn, conns);   // conns_next, conns_prev
 *             ...
 *     };
 *     LIST_HEAD(Conn, conns);             // Conn *conns;
 *
 *     LIST_PREPEND(conns, s->conns, c);
 *     LIST_FOREACH(conns, i, s->conns) ...
 *     LIST_REMOVE(conns, s->conns, c);
 *
 * One difference from systemd's: the first element's prev points at the
 * last element (every other link is as usual, and the last element's next
 * is NULL). So a queue needs nothing but its head pointer, and appending
 * and finding the last element cost O(1) instead of a walk. That is why
 * prev must never be followed by hand: LIST_PREV() stops at the head.
 *
 * An element that is in no list has both links NULL (LIST_INIT, and what
 * LIST_REMOVE leaves behind), which LIST_IS_LINKED can tell apart. */

#include <stdbool.h>
#include <stddef.h>

#define LIST_HEAD(t, name) t *name
#define LIST_FIELDS(t, name) t *name##_next, *name##_prev

#define LIST_HEAD_INIT(head) \
        do {                 \
                (head) = NULL; \
        } while (false)

#define LIST_INIT(name, item)                                         \
        do {                                                          \
                typeof(*(item)) *_item_ = (item);                     \
                _item_->name##_next = _item_->name##_prev = NULL;     \
        } while (false)

#define LIST_IS_EMPTY(head) (!(head))

/* Whether item is in some list through these fields (in one, its prev is
 * never NULL: the first element's points at the last). */
#define LIST_IS_LINKED(name, item) (!!(item)->name##_prev)

/* The last element, or NULL. */
#define LIST_TAIL(name, head) ((head) ? (head)->name##_prev : NULL)

/* The element before item, or NULL for the first. */
#define LIST_PREV(name, head, item) ((item) == (head) ? NULL : (item)->name##_prev)

/* Whether item is alone in its list. */
#define LIST_JUST_US(name, item) (!(item)->name##_next && (item)->name##_prev == (item))

/* Puts item first. Returns item. */
#define LIST_PREPEND(name, head, item)                                          \
        ({                                                                      \
                typeof(*(head)) **_head_ = &(head), *_item_ = (item);           \
                if (*_head_) {                                                  \
                        _item_->name##_prev = (*_head_)->name##_prev;           \
                        (*_head_)->name##_prev = _item_;                        \
                } else                                                          \
                        _item_->name##_prev = _item_;                           \
                _item_->name##_next = *_head_;                                  \
                *_head_ = _item_;                                               \
                _item_;                                                         \
        })

/* Puts item last, in O(1). Returns item. */
#define LIST_APPEND(name, head, item)                                           \
        ({                                                                      \
                typeof(*(head)) **_head_ = &(head), *_item_ = (item);           \
                _item_->name##_next = NULL;                                     \
                if (*_head_) {                                                  \
                        typeof(*(head)) *_tail_ = (*_head_)->name##_prev;       \
                        _tail_->name##_next = _item_;                           \
                        _item_->name##_prev = _tail_;                           \
                        (*_head_)->name##_prev = _item_;                        \
                } else {                                                        \
                        _item_->name##_prev = _item_;                           \
                        *_head_ = _item_;                                       \
                }                                                               \
                _item_;                                                         \
        })

/* Puts item right after a (a NULL: first). Returns item. */
#define LIST_INSERT_AFTER(name, head, a, item)                                  \
        ({                                                                      \
                typeof(*(head)) **_ih_ = &(head), *_ia_ = (a), *_ii_ = (item);  \
                if (!_ia_)                                                      \
                        LIST_PREPEND(name, *_ih_, _ii_);                        \
                else {                                                          \
                        _ii_->name##_prev = _ia_;                               \
                        _ii_->name##_next = _ia_->name##_next;                  \
                        if (_ia_->name##_next)                                  \
                                _ia_->name##_next->name##_prev = _ii_;          \
                        else                                                    \
                                (*_ih_)->name##_prev = _ii_;                    \
                        _ia_->name##_next = _ii_;                               \
                }                                                               \
                _ii_;                                                           \
        })

/* Takes item (which must be in the list) out, and leaves its links NULL.
 * Returns item. */
#define LIST_REMOVE(name, head, item)                                           \
        ({                                                                      \
                typeof(*(head)) **_head_ = &(head), *_item_ = (item);           \
                if (_item_->name##_next)                                        \
                        _item_->name##_next->name##_prev = _item_->name##_prev; \
                else if (*_head_ != _item_)                                     \
                        /* The last one goes: the head learns the new last. */  \
                        (*_head_)->name##_prev = _item_->name##_prev;           \
                if (*_head_ == _item_)                                          \
                        *_head_ = _item_->name##_next;                          \
                else                                                            \
                        _item_->name##_prev->name##_next = _item_->name##_next; \
                _item_->name##_next = _item_->name##_prev = NULL;               \
                _item_;                                                         \
        })

/* Takes the first element out and returns it, or NULL when empty. */
#define LIST_POP(name, head)                                                    \
        ({                                                                      \
                typeof(*(head)) **_h_ = &(head), *_first_ = *_h_;               \
                if (_first_)                                                    \
                        LIST_REMOVE(name, *_h_, _first_);                       \
                _first_;                                                        \
        })

#define LIST_FOREACH(name, i, head) for (typeof(*(head)) *i = (head); i; i = i->name##_next)

/* i may be removed (and freed) in the body; n is the next element. */
#define LIST_FOREACH_SAFE(name, i, n, head)                                                   \
        for (typeof(*(head)) *n, *i = (head); i && ((n = i->name##_next), true); i = n)

#define LIST_FOREACH_BACKWARDS(name, i, head)                                                 \
        for (typeof(*(head)) *i = LIST_TAIL(name, head); i; i = LIST_PREV(name, head, i))
