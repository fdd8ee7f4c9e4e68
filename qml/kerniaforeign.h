// The SDK's own types as KerniaClient and CollectionModel hand them to QML, declared for
// the QML type system and its tools (type information, qmllint). None is created in QML.
#pragma once

#include <Kernia/Client>
#include <Kernia/Collection>

#include <QtQml/qqml.h>   // QML_FOREIGN needs more than qqmlregistration.h

struct KerniaForeignClient
{
    Q_GADGET
    QML_FOREIGN(Kernia::Client)
    QML_ANONYMOUS   // KerniaClient.client: a client created in C++
};

struct KerniaForeignCollection
{
    Q_GADGET
    QML_FOREIGN(Kernia::Collection)
    QML_NAMED_ELEMENT(Collection)
    QML_UNCREATABLE("A Collection comes from KerniaClient.collection(name)")
};

struct KerniaForeignRecord
{
    Q_GADGET
    QML_FOREIGN(Kernia::Record)
    QML_ANONYMOUS   // CollectionModel.recordAt(row)
};
